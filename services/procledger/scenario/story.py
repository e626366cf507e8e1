"""The seed article as events: NATO members ordered exactly USD 1bn of 155mm shells by mid-June."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from functools import lru_cache

from procledger.domain.events import Event, OrderPlaced, StockpileTargetSet, event_type
from procledger.scenario.replay import Replay
from procledger.scenario.story_data import (
    FEBRUARY_AUTHORITY,
    FEBRUARY_TARGETS_DAY,
    JUNE_AUTHORITY,
    JUNE_TARGETS_DAY,
    ORDERS,
    STORY_CALIBER,
    STORY_TOTAL_USD,
    TARGETS,
    WINDOW_END,
    WINDOW_START,
    Spec,
)
from procledger.scenario.story_expand import Expansion, Timed, balancing, in_window, uid

__all__ = [
    "STORY_CALIBER",
    "STORY_TOTAL_USD",
    "WINDOW_END",
    "WINDOW_START",
    "StoryOracle",
    "story_events",
    "story_oracle",
    "story_specs",
]


def _targets() -> list[Timed]:
    out: list[Timed] = []
    for n, (country, caliber, february, june) in enumerate(TARGETS):
        for day, authority, quantity in (
            (FEBRUARY_TARGETS_DAY, FEBRUARY_AUTHORITY, february),
            (JUNE_TARGETS_DAY, JUNE_AUTHORITY, june),
        ):
            when = datetime(day.year, day.month, day.day, 12, n % 60, tzinfo=UTC)
            event_id = uid(f"target/{country}/{caliber}/{day.isoformat()}")
            event = StockpileTargetSet(event_id, when, country, caliber, quantity, authority)
            out.append((when, -1, n, event))
    return out


@lru_cache(maxsize=1)
def _story() -> tuple[tuple[Spec, ...], tuple[Event, ...]]:
    timed = _targets()
    partial = Decimal(0)
    for index, spec in enumerate(ORDERS):
        expansion = Expansion(spec, index)
        timed.extend(expansion.events)
        if in_window(spec):
            partial += expansion.value_usd
    # Exact by construction: the last two orders are sized from what the others add up to.
    specs = ORDERS + balancing(STORY_TOTAL_USD - partial)
    for index in range(len(ORDERS), len(specs)):
        timed.extend(Expansion(specs[index], index).events)
    timed.sort(key=lambda t: t[:3])
    return specs, tuple(t[3] for t in timed)


def story_specs() -> tuple[Spec, ...]:
    """The order specs behind the story, including the two computed balancing orders."""
    return _story()[0]


def story_events() -> list[Event]:
    """Every event of the story, sorted by occurred_at; identical on every call and run."""
    return list(_story()[1])


@dataclass(frozen=True)
class StoryOracle:
    """Expected figures of the story, from the independent replay in scenario.replay."""

    total_155_usd_to_mid_june: Decimal
    orders: int
    orders_155_to_mid_june: int
    events: int
    events_by_type: dict[str, int]
    rejected: dict[str, int]
    buyers: frozenset[str]
    buyers_155_to_mid_june: frozenset[str]
    suppliers: frozenset[str]
    currencies: frozenset[str]
    value_usd_by_caliber: dict[int | None, Decimal]


def story_oracle() -> StoryOracle:
    """Replay the story with the scenario's own replay and report what a ledger must show."""
    events = story_events()
    replay = Replay()
    for event in events:
        replay.apply(event)
    total = Decimal("0.00")
    by_caliber: dict[int | None, Decimal] = {}
    window: list[OrderPlaced] = []
    for state in replay.orders.values():
        placed, value = state.placed, state.value_usd()
        by_caliber[placed.caliber_mm] = by_caliber.get(placed.caliber_mm, Decimal(0)) + value
        if placed.caliber_mm == STORY_CALIBER and WINDOW_START <= placed.occurred_at <= WINDOW_END:
            window.append(placed)
            total += value
    all_placed = [s.placed for s in replay.orders.values()]
    return StoryOracle(
        total_155_usd_to_mid_june=total,
        orders=len(replay.orders),
        orders_155_to_mid_june=len(window),
        events=len(events),
        events_by_type=dict(Counter(event_type(e) for e in events)),
        rejected=dict(replay.rejected),
        buyers=frozenset(p.buyer for p in all_placed),
        buyers_155_to_mid_june=frozenset(p.buyer for p in window),
        suppliers=frozenset(p.supplier for p in all_placed),
        currencies=frozenset(p.currency for p in all_placed),
        value_usd_by_caliber=by_caliber,
    )
