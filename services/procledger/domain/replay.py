"""Replaying the journal: a chunked fold whose memory is the state, never the event count."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from procledger.domain.events import Event
from procledger.domain.ledger import fold
from procledger.domain.state import LedgerState, Order, StockpileTarget

CHUNK = 50_000  # events per fold() call: bounds the outcomes held at once

TargetKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Replayed:
    """The projections a replay reached, and how many events it folded."""

    events: int
    orders: dict[str, Order]
    targets: dict[TargetKey, StockpileTarget]


def replay(events: Iterable[Event], chunk: int = CHUNK) -> Replayed:
    """Fold journal events from an empty ledger, `chunk` at a time.

    fold() keeps each event's outcome (and every intermediate Order) until it returns, so one
    fold over a million events held gigabytes; here only the state carries over. The applied
    event ids do not carry over either: they are the one part of the state that grows with
    every event, and the journal's event ids are unique (a constraint), so no journal event
    can be a duplicate of an earlier one.
    """
    stream = iter(events)
    orders: Mapping[str, Order] = {}
    targets: Mapping[TargetKey, StockpileTarget] = {}
    count = 0
    while batch := list(islice(stream, chunk)):
        state = fold(LedgerState(orders, targets, frozenset()), batch).state
        orders, targets = state.orders, state.targets
        count += len(batch)
    return Replayed(count, dict(orders), dict(targets))


def merge(parts: Iterable[Replayed]) -> Replayed:
    """One replay from replays of disjoint shares of the journal (by order, by country)."""
    merged = Replayed(0, {}, {})
    for part in parts:
        merged.orders.update(part.orders)
        merged.targets.update(part.targets)
        merged = Replayed(merged.events + part.events, merged.orders, merged.targets)
    return merged


def differences(
    replayed: Replayed, orders: Mapping[str, Order], targets: Mapping[TargetKey, StockpileTarget]
) -> Iterator[str]:
    """Each way the live projections (`orders`, `targets`) differ from the replay, named."""
    yield from _differ("order", replayed.orders, orders, str)
    yield from _differ("stockpile target", replayed.targets, targets, _target_name)


def _target_name(key: TargetKey) -> str:
    return f"{key[0]}/{key[1]}mm"


def _differ(
    kind: str,
    replayed: Mapping[Any, Order | StockpileTarget],
    live: Mapping[Any, Order | StockpileTarget],
    show_key: Callable[[Any], str],
) -> Iterator[str]:
    for key in sorted(replayed.keys() | live.keys()):
        mine, theirs = replayed.get(key), live.get(key)
        if mine == theirs:
            continue
        if theirs is None:
            yield f"{kind} {show_key(key)}: missing from the live projection"
        elif mine is None:
            yield f"{kind} {show_key(key)}: in the live projection but not in the journal"
        else:
            for field in fields(mine):
                a, b = getattr(theirs, field.name), getattr(mine, field.name)
                if a != b:
                    yield (
                        f"{kind} {show_key(key)}: {field.name} is {_show(a)} live but "
                        f"{_show(b)} by the journal"
                    )


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return str(sorted(value))
    if isinstance(value, Decimal | datetime):
        return str(value)
    return repr(value)
