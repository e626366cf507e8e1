"""The scenario generators: the exact $1bn story and the streaming synthetic load."""

from __future__ import annotations

import hashlib
import inspect
import itertools
import os
import re
import subprocess
import sys
from collections import Counter
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from procledger.domain.events import (
    EVENT_TYPES,
    DeliveryRecorded,
    Event,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    PaymentRecorded,
    StockpileTargetSet,
    event_type,
)
from procledger.domain.money import order_value
from procledger.domain.reference import NATO_MEMBERS_2023 as NATO_MEMBERS
from procledger.scenario import story as story_module
from procledger.scenario.reference_data import CURRENCIES, monthly_rates, usd_rate
from procledger.scenario.replay import Replay
from procledger.scenario.story import (
    STORY_TOTAL_USD,
    WINDOW_END,
    WINDOW_START,
    story_events,
    story_oracle,
)
from procledger.scenario.synthetic import SyntheticOracle, synthetic_events, synthetic_placed

MID_JUNE = datetime(2023, 6, 16, tzinfo=UTC)
JUNE_AUTHORITY = "NATO Defence Ministers' Meeting, Brussels, 16 June 2023"
NSN = re.compile(r"^\d{4}-\d{2}-\d{3}-\d{4}$")


def places(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def placed_orders(events: list[Event]) -> dict[str, OrderPlaced]:
    return {e.order_id: e for e in events if isinstance(e, OrderPlaced)}


def fold_values(events: list[Event]) -> dict[str, Decimal]:
    """A deliberately naive fold, separate from scenario.replay: value in USD per order."""
    placed = placed_orders(events)
    quantity = {k: p.quantity for k, p in placed.items()}
    price = {k: p.unit_price for k, p in placed.items()}
    delivered: Counter[str] = Counter()
    for e in events:
        if isinstance(e, OrderAmended):
            quantity[e.order_id] = e.quantity or quantity[e.order_id]
            price[e.order_id] = e.unit_price or price[e.order_id]
        elif isinstance(e, DeliveryRecorded):
            delivered[e.order_id] += e.quantity
        elif isinstance(e, OrderCancelled):
            quantity[e.order_id] = delivered[e.order_id]
    return {k: order_value(quantity[k], price[k], p.usd_rate) for k, p in placed.items()}


def in_window(p: OrderPlaced) -> bool:
    return p.caliber_mm == 155 and WINDOW_START <= p.occurred_at <= WINDOW_END


# --- the story ---------------------------------------------------------------------------


def story_digest() -> str:
    return hashlib.sha256(repr(story_events()).encode()).hexdigest()


def test_story_is_deterministic_across_calls_and_processes() -> None:
    first = story_events()
    story_module._story.cache_clear()
    assert story_events() == first
    code = (
        "import hashlib; from procledger.scenario.story import story_events; "
        "print(hashlib.sha256(repr(story_events()).encode()).hexdigest())"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    assert out.stdout.strip() == story_digest()


def test_story_adds_up_to_exactly_one_billion_by_mid_june() -> None:
    events = story_events()
    values = fold_values(events)
    placed = placed_orders(events)
    total = sum((values[k] for k, p in placed.items() if in_window(p)), Decimal("0.00"))
    assert total == Decimal("1000000000.00") == STORY_TOTAL_USD
    assert str(total) == "1000000000.00"
    # The filters matter: 155mm placed before 2023 or after mid-June adds more.
    everything = sum((values[k] for k, p in placed.items() if p.caliber_mm == 155), Decimal(0))
    assert everything > total
    assert any(p.occurred_at < WINDOW_START for p in placed.values())
    assert sum(p.occurred_at > WINDOW_END and p.caliber_mm == 155 for p in placed.values()) >= 3


def test_story_values_are_final_before_mid_june() -> None:
    events = story_events()
    window = {k for k, p in placed_orders(events).items() if in_window(p)}
    changes = [e for e in events if isinstance(e, OrderAmended | OrderCancelled)]
    assert all(e.occurred_at < MID_JUNE for e in changes if e.order_id in window)
    before = fold_values([e for e in events if e.occurred_at < MID_JUNE])
    assert sum(before[k] for k in window) == STORY_TOTAL_USD


def test_story_has_breadth() -> None:
    events = story_events()
    placed = list(placed_orders(events).values())
    window = [p for p in placed if in_window(p)]
    assert len({p.buyer for p in window}) >= 15
    assert len({p.currency for p in window}) >= 3
    assert len({p.supplier for p in window}) >= 4
    assert {event_type(e) for e in events} == set(EVENT_TYPES)
    assert {p.purpose.value for p in placed} >= {
        "NATIONAL_STOCKPILE",
        "UKRAINE_SUPPORT",
        "NATO_COMMON_FUNDING",
    }
    assert {105, 120, 81, 30, 35, None} <= {p.caliber_mm for p in placed}
    deliveries = [e for e in events if isinstance(e, DeliveryRecorded)]
    assert sum(d.destination == "UKR" for d in deliveries) >= 20
    kinds = Counter(event_type(e) for e in events)
    assert kinds["OrderAmended"] >= 3
    assert kinds["OrderCancelled"] >= 1


def test_story_fields_are_well_formed() -> None:
    events = story_events()
    placed = placed_orders(events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert len({e.event_id for e in events}) == len(events)
    for p in placed.values():
        assert p.buyer in NATO_MEMBERS
        assert p.destination in {p.buyer, "UKR"}
        assert p.supplier_country and re.fullmatch(r"[A-Z]{3}", p.supplier_country)
        assert p.nsn and NSN.match(p.nsn)
        assert p.contract_ref
        assert places(p.unit_price) <= 4
        assert places(p.usd_rate) <= 8
        assert p.occurred_at.tzinfo is not None
        if p.caliber_mm == 155:
            assert 3000 <= p.unit_price * p.usd_rate <= 8500
    for e in events:
        if isinstance(e, PaymentRecorded):
            assert e.currency == placed[e.order_id].currency
            assert places(e.amount) <= 2
            assert places(e.usd_rate) <= 8
        if isinstance(e, DeliveryRecorded):
            assert e.destination in {placed[e.order_id].buyer, "UKR"}
        if isinstance(e, OrderAmended) and e.unit_price is not None:
            assert places(e.unit_price) <= 4
    # Some payments use a different rate from the placement one.
    payments = [e for e in events if isinstance(e, PaymentRecorded)]
    assert any(e.usd_rate != placed[e.order_id].usd_rate for e in payments)


def test_story_targets_are_raised_in_june() -> None:
    targets = [e for e in story_events() if isinstance(e, StockpileTargetSet)]
    by_key: dict[tuple[str, int], list[StockpileTargetSet]] = {}
    for t in targets:
        assert t.country in NATO_MEMBERS
        by_key.setdefault((t.country, t.caliber_mm), []).append(t)
    assert len(by_key) >= 10
    for early, june in by_key.values():
        assert early.occurred_at < june.occurred_at
        assert june.authority == JUNE_AUTHORITY
        assert june.occurred_at.date().isoformat() == "2023-06-16"
        assert june.target_quantity >= early.target_quantity * 3 // 2


def test_story_lifecycles_are_valid() -> None:
    replay = Replay()
    reasons = [replay.apply(e) for e in story_events()]
    assert [r for r in reasons if r is not None] == []
    assert any(s.cancelled for s in replay.orders.values())


def test_story_oracle_matches_the_events() -> None:
    events = story_events()
    oracle = story_oracle()
    placed = placed_orders(events)
    assert oracle.total_155_usd_to_mid_june == STORY_TOTAL_USD
    assert oracle.orders == len(placed)
    assert oracle.events == len(events)
    assert oracle.events_by_type == dict(Counter(event_type(e) for e in events))
    assert oracle.rejected == {}
    assert oracle.orders_155_to_mid_june == sum(in_window(p) for p in placed.values())
    assert oracle.buyers_155_to_mid_june == {p.buyer for p in placed.values() if in_window(p)}
    assert len(oracle.currencies) >= 3
    assert sum(oracle.value_usd_by_caliber.values()) == sum(fold_values(events).values())


# --- the synthetic stream ------------------------------------------------------------------


def test_synthetic_is_deterministic_per_seed() -> None:
    first = list(synthetic_events(3000, seed=7))
    assert first == list(synthetic_events(3000, seed=7))
    assert first != list(synthetic_events(3000, seed=8))
    assert len({e.event_id for e in first}) == len(first)


@pytest.mark.parametrize("count", [0, 1, 2, 9, 1000, 20001])
def test_synthetic_yields_exactly_n_events(count: int) -> None:
    assert sum(1 for _ in synthetic_events(count, seed=count)) == count


def test_synthetic_places_exactly_the_requested_orders() -> None:
    events = list(synthetic_events(5000, orders=400, seed=3))
    assert sum(isinstance(e, OrderPlaced) for e in events) == 400


def test_synthetic_streams() -> None:
    stream = synthetic_events(10_000_000, seed=1)
    assert inspect.isgenerator(stream)
    head = list(itertools.islice(stream, 1000))
    assert len(head) == 1000


def test_synthetic_mixes_every_event_type() -> None:
    oracle = SyntheticOracle()
    events = list(synthetic_events(20000, seed=11, oracle=oracle))
    counts = Counter(event_type(e) for e in events)
    assert set(counts) == set(EVENT_TYPES)
    assert counts["DeliveryRecorded"] > counts["OrderAmended"] > counts["OrderCancelled"]
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    assert oracle.events_by_type == counts


def check_against_replay(events: int, seed: int, invalid_ratio: float, max_open: int) -> None:
    oracle = SyntheticOracle()
    replay = Replay()
    stream = synthetic_events(
        events, seed=seed, invalid_ratio=invalid_ratio, oracle=oracle, max_open=max_open
    )
    for event in stream:
        replay.apply(event)
    assert oracle.events == events
    assert oracle.applied_by_type == replay.applied
    assert oracle.rejected == replay.rejected
    assert oracle.orders == len(replay.orders)
    expected: dict[tuple[str, int | None], Decimal] = {}
    for state in replay.orders.values():
        key = (state.placed.buyer, state.placed.caliber_mm)
        expected[key] = expected.get(key, Decimal(0)) + state.value_usd()
    assert oracle.value_usd == expected
    assert oracle.total_value_usd() == sum(expected.values())


def test_synthetic_lifecycles_are_valid() -> None:
    check_against_replay(30000, seed=2, invalid_ratio=0.0, max_open=1024)


def test_synthetic_faults_match_the_oracle() -> None:
    check_against_replay(30000, seed=4, invalid_ratio=0.05, max_open=64)
    oracle = SyntheticOracle()
    for _ in synthetic_events(5000, seed=4, invalid_ratio=0.1, oracle=oracle):
        pass
    assert set(oracle.rejected) == {"redelivered", "over_delivery", "unknown_order"}


@settings(max_examples=25, deadline=None)
@given(
    events=st.integers(0, 3000),
    seed=st.integers(0, 2**32),
    invalid_ratio=st.sampled_from([0.0, 0.01, 0.2]),
    max_open=st.integers(1, 50),
)
def test_synthetic_oracle_holds_for_any_seed(
    events: int, seed: int, invalid_ratio: float, max_open: int
) -> None:
    check_against_replay(events, seed, invalid_ratio, max_open)


def test_synthetic_money_is_exact() -> None:
    for e in synthetic_events(5000, seed=5):
        if isinstance(e, OrderPlaced):
            assert places(e.unit_price) <= 4
            assert e.buyer in NATO_MEMBERS
        elif isinstance(e, PaymentRecorded):
            assert places(e.amount) <= 2
            assert e.amount > 0


def test_synthetic_placed_only_places() -> None:
    events = list(synthetic_placed(2000, seed=9))
    assert len(events) == 2000
    assert all(isinstance(e, OrderPlaced) for e in events)
    assert len({e.order_id for e in events}) == 2000
    assert events == list(synthetic_placed(2000, seed=9))
    replay = Replay()
    assert all(replay.apply(e) is None for e in events)


def test_synthetic_generators_do_not_share_ids() -> None:
    placed = {e.order_id for e in synthetic_placed(500, seed=1)}
    events = {e.event_id for e in synthetic_events(500, seed=1)}
    orders = {e.order_id for e in synthetic_events(500, seed=1) if isinstance(e, OrderPlaced)}
    assert not placed & orders
    assert not {e.event_id for e in synthetic_placed(500, seed=1)} & events
    assert not events & {e.event_id for e in synthetic_events(500, seed=2)}


def test_the_fx_table_has_twelve_2023_rates_per_currency() -> None:
    assert CURRENCIES[:3] == ("USD", "EUR", "GBP") and len(CURRENCIES) == 10
    assert all(len(monthly_rates(c)) == 12 and min(monthly_rates(c)) > 0 for c in CURRENCIES)
    assert usd_rate("EUR", date(2023, 1, 15)) == Decimal("1.0785")
    assert usd_rate("HUF", date(2023, 12, 31)) == Decimal("0.002870")
    assert usd_rate("EUR", date(2022, 12, 1)) == Decimal("1.0600")
    with pytest.raises(ValueError, match="2024-01"):
        usd_rate("EUR", date(2024, 1, 1))
