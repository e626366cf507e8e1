"""The journal's replay: chunked, by shares or whole, it reaches what one fold reaches."""

from __future__ import annotations

import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procledger.domain.events import Event, StockpileTargetSet
from procledger.domain.ledger import empty_state, fold
from procledger.domain.replay import (
    Replayed,
    differences,
    keyed_differences,
    merge,
    replay,
    replay_by_order,
)
from procledger.scenario.synthetic import synthetic_events

EVENTS = list(synthetic_events(2000, seed=11))


def _applied(events: list[Event]) -> list[Event]:
    """The events one fold applies: what a journal holds (it journals nothing else)."""
    result = fold(empty_state(), events)
    return [e for e, outcome in result.outcomes if type(outcome).__name__ == "Applied"]


JOURNAL = _applied(EVENTS)


@settings(max_examples=25, deadline=None)
@given(st.integers(min_value=1, max_value=700))
def test_a_chunked_replay_equals_one_fold(chunk: int) -> None:
    whole = fold(empty_state(), JOURNAL).state
    replayed = replay(JOURNAL, chunk=chunk)
    assert replayed.events == len(JOURNAL)
    assert replayed.orders == dict(whole.orders)
    assert replayed.targets == dict(whole.targets)


def _share(event: Event, shares: int) -> int:
    key = event.country if isinstance(event, StockpileTargetSet) else event.order_id
    return zlib.crc32(key.encode()) % shares


@pytest.mark.parametrize("shares", [1, 2, 3, 5])
def test_replays_of_disjoint_shares_merge_into_the_whole(shares: int) -> None:
    parts = [replay([e for e in JOURNAL if _share(e, shares) == i]) for i in range(shares)]
    assert merge(parts) == replay(JOURNAL)


def test_identical_projections_have_no_differences() -> None:
    replayed = replay(JOURNAL)
    assert list(differences(replayed, replayed.orders, replayed.targets)) == []


def test_each_difference_is_named_by_kind_key_and_column() -> None:
    replayed = replay(JOURNAL)
    orders = dict(replayed.orders)
    first, second = sorted(orders)[:2]
    orders[first] = replace(orders[first], quantity=orders[first].quantity + 1)
    del orders[second]
    orders["X-EXTRA"] = orders[first]
    targets = dict(replayed.targets)
    country, caliber = key = sorted(targets)[0]
    del targets[key]
    found = list(differences(replayed, orders, targets))
    assert found == [
        f"order {first}: quantity is {orders[first].quantity} live but "
        f"{replayed.orders[first].quantity} by the journal",
        f"order {second}: missing from the live projection",
        "order X-EXTRA: in the live projection but not in the journal",
        f"stockpile target {country}/{caliber}mm: missing from the live projection",
    ]


def test_an_empty_journal_replays_to_nothing() -> None:
    assert replay([]) == Replayed(0, {}, {})


def _by_order(journal: list[Event]) -> list[Event]:
    """The journal as the server sorts it for replay_by_order: by order, targets last."""
    position = {id(e): i for i, e in enumerate(journal)}
    orders = [e for e in journal if not isinstance(e, StockpileTargetSet)]
    targets = [e for e in journal if isinstance(e, StockpileTargetSet)]
    return sorted(orders, key=lambda e: (e.order_id, position[id(e)])) + targets


@settings(max_examples=10, deadline=None)
@given(st.integers(min_value=1, max_value=900))
def test_groups_of_whole_orders_replay_to_the_whole(group: int) -> None:
    whole = replay(JOURNAL)
    groups = list(replay_by_order(_by_order(JOURNAL), group=group))
    assert sum(g.replayed.events for g in groups) == len(JOURNAL)
    seen: set[str] = set()
    for g in groups:
        assert not g.order_ids & seen  # an order never spans two groups
        seen |= g.order_ids
        assert set(g.replayed.orders) <= g.order_ids
    assert merge(g.replayed for g in groups) == whole
    # Each group holds about `group` events: a cut waits only for the order to end.
    longest = max(sum(1 for e in JOURNAL if getattr(e, "order_id", None) == o) for o in seen)
    targets = sum(isinstance(e, StockpileTargetSet) for e in JOURNAL)
    assert all(g.replayed.events < group + max(longest, targets) for g in groups)


def test_differences_found_part_by_part_sort_as_one_pass_finds_them() -> None:
    replayed = replay(JOURNAL)
    orders = {k: replace(o, quantity=o.quantity + 1) for k, o in replayed.orders.items()}
    targets = dict(list(replayed.targets.items())[1:])
    whole = list(differences(replayed, orders, targets))
    halves = [dict(list(replayed.orders.items())[i::2]) for i in (0, 1)]
    parts = [
        *keyed_differences(Replayed(0, halves[1], {}), {k: orders[k] for k in halves[1]}, {}),
        *keyed_differences(Replayed(0, {}, replayed.targets), {}, targets),
        *keyed_differences(Replayed(0, halves[0], {}), {k: orders[k] for k in halves[0]}, {}),
    ]
    assert [line for _key, line in sorted(parts, key=lambda p: p[0])] == whole
