"""The journal's replay: chunked, by shares or whole, it reaches what one fold reaches."""

from __future__ import annotations

import zlib
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procledger.domain.events import Event, StockpileTargetSet
from procledger.domain.ledger import empty_state, fold
from procledger.domain.replay import Replayed, differences, merge, replay
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
