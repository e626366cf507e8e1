"""Replaying the journal: a chunked fold whose memory is the state, never the event count."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, fields
from datetime import datetime
from decimal import Decimal
from itertools import islice
from typing import Any

from procledger.domain.events import Event, StockpileTargetSet
from procledger.domain.ledger import fold
from procledger.domain.state import LedgerState, Order, StockpileTarget

CHUNK = 50_000  # events per fold() call: bounds the outcomes held at once
GROUP = 20_000  # events folded and compared at once when the journal comes grouped by order

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


@dataclass(frozen=True, slots=True)
class Group:
    """The projections of whole orders (and, last, of every stockpile target) of a replay."""

    order_ids: frozenset[str]
    replayed: Replayed


def replay_by_order(events: Iterable[Event], group: int = GROUP) -> Iterator[Group]:
    """Fold a journal that comes grouped by order, about `group` events at a time.

    Each order's events must come together and in commit order, and the stockpile targets'
    events together (after or before the orders). An event's outcome depends only on its own
    order (or target key), so each group folds exactly from an empty ledger, and only one
    group's events and projections are held: the memory is `group`, never the journal's size
    nor the number of orders. A group is cut only where the order changes.
    """
    buffer: list[Event] = []
    ids: set[str] = set()
    last: str | None = None
    for event in events:
        key = None if isinstance(event, StockpileTargetSet) else event.order_id
        if key != last and len(buffer) >= group:
            yield Group(frozenset(ids), replay(buffer))
            buffer, ids = [], set()
        last = key
        buffer.append(event)
        if key is not None:
            ids.add(key)
    if buffer:
        yield Group(frozenset(ids), replay(buffer))


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
    for _key, line in keyed_differences(replayed, orders, targets):
        yield line


def keyed_differences(
    replayed: Replayed,
    orders: Mapping[str, Order],
    targets: Mapping[TargetKey, StockpileTarget],
    holder: tuple[str, str] = ("the live projection", "live"),
) -> Iterator[tuple[tuple[Any, ...], str]]:
    """differences(), each with a key that sorts lines found part by part as one pass would;
    `holder` names where `orders` and `targets` were read, as a place and as an adverb."""
    for key, line in _differ("order", replayed.orders, orders, str, holder):
        yield (0, key), line
    for key, line in _differ("stockpile target", replayed.targets, targets, _target_name, holder):
        yield (1, key), line


def _target_name(key: TargetKey) -> str:
    return f"{key[0]}/{key[1]}mm"


def _differ(
    kind: str,
    replayed: Mapping[Any, Order | StockpileTarget],
    live: Mapping[Any, Order | StockpileTarget],
    show_key: Callable[[Any], str],
    holder: tuple[str, str],
) -> Iterator[tuple[Any, str]]:
    place, adverb = holder
    for key in sorted(replayed.keys() | live.keys()):
        mine, theirs = replayed.get(key), live.get(key)
        if mine == theirs:
            continue
        if theirs is None:
            yield key, f"{kind} {show_key(key)}: missing from {place}"
        elif mine is None:
            yield key, f"{kind} {show_key(key)}: in {place} but not in the journal"
        else:
            for field in fields(mine):
                a, b = getattr(theirs, field.name), getattr(mine, field.name)
                if a != b:
                    yield (
                        key,
                        (
                            f"{kind} {show_key(key)}: {field.name} is {_show(a)} {adverb} "
                            f"but {_show(b)} by the journal"
                        ),
                    )


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return str(sorted(value))
    if isinstance(value, Decimal | datetime):
        return str(value)
    return repr(value)
