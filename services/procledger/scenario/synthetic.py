"""Streaming synthetic order events: valid lifecycles at any scale, optionally with faults."""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from procledger.domain import events as ev
from procledger.domain.money import order_value
from procledger.domain.reference import NATO_MEMBERS_2023, UKRAINE
from procledger.scenario.reference_data import supply_class
from procledger.scenario.synthetic_catalog import (
    HOME,
    ITEMS,
    LOT_DIVISORS,
    PURPOSES,
    RATES,
    SCALE,
    SUPPLIER_PAIRS,
)
from procledger.scenario.synthetic_state import OpenOrder, SyntheticOracle

__all__ = [
    "DEFAULT_MAX_OPEN",
    "DEFAULT_START",
    "SyntheticOracle",
    "synthetic_events",
    "synthetic_placed",
]

DEFAULT_START = datetime(2024, 1, 1, tzinfo=UTC)
DEFAULT_MAX_OPEN = 1024
AUTHORITY = "NATO Defence Planning Process (synthetic)"


def _money(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


class _Generator:
    """One run's random source, id counters and bounded window of open orders."""

    def __init__(
        self, label: str, seed: int, start: datetime, oracle: SyntheticOracle | None
    ) -> None:
        self.rng = random.Random(seed)
        self.start = start
        self.micros = 0
        self.oracle = oracle if oracle is not None else SyntheticOracle()
        # Ids look like UUIDs (version 4 nibble, RFC variant) but come from a counter: unique
        # within a run, distinct between generators/seeds/starts, far cheaper than uuid4().
        run = zlib.crc32(f"{label}/{seed}/{start.isoformat()}".encode())
        self.prefix = [f"{run:08x}-{kind:04x}-4000-8000-" for kind in range(6)]
        self.counters = [0] * 6
        self.open: list[OpenOrder] = []
        self.last: ev.Event | None = None

    def next_id(self, kind: int) -> str:
        self.counters[kind] += 1
        return f"{self.prefix[kind]}{self.counters[kind]:012x}"

    def tick(self) -> datetime:
        # Up to four seconds apart, strictly increasing: the stream is sorted by occurred_at.
        self.micros += self.rng.randrange(1, 4_000_000)
        return self.start + timedelta(microseconds=self.micros)

    def place(self, at: datetime) -> tuple[ev.OrderPlaced, int]:
        rng = self.rng
        description, caliber, lo, hi, qlo, qhi = rng.choice(ITEMS)
        buyer = rng.choice(NATO_MEMBERS_2023)
        currency = "USD" if rng.random() < 0.25 else HOME.get(buyer, "EUR")
        price = rng.randrange(lo, hi) * SCALE[currency]
        supplier, supplier_country = rng.choice(SUPPLIER_PAIRS)
        purpose = rng.choice(PURPOSES)
        number = self.counters[1] + 1
        event = ev.OrderPlaced(
            event_id=self.next_id(0),
            occurred_at=at,
            order_id=self.next_id(1),
            buyer=buyer,
            supplier=supplier,
            item_description=description,
            caliber_mm=caliber,
            quantity=rng.randrange(qlo, qhi),
            unit_price=_money(price),
            currency=currency,
            usd_rate=rng.choice(RATES[currency]),
            purpose=purpose,
            destination=UKRAINE if purpose is ev.Purpose.UKRAINE_SUPPORT else buyer,
            supplier_country=supplier_country,
            contract_ref=f"SYN-{buyer}-{number:08d}",
            nsn=f"{supply_class(caliber)}-00-{number % 1000:03d}-{number % 10000:04d}",
        )
        return event, price

    def open_order(self, at: datetime, max_open: int) -> ev.OrderPlaced:
        event, price = self.place(at)
        value = order_value(event.quantity, event.unit_price, event.usd_rate)
        order = OpenOrder(event, price, value)
        self.oracle.orders += 1
        self.oracle.add_value(order.key, value)
        if len(self.open) >= max_open:
            # Forget a random open order: it stays open in the ledger, memory stays bounded.
            self._drop(self.rng.randrange(len(self.open)))
        self.open.append(order)
        return event

    def _drop(self, index: int) -> None:
        self.open[index] = self.open[-1]
        self.open.pop()

    def act(self, at: datetime) -> ev.Event:
        """One valid event on a random open order; settled orders leave the window."""
        index = self.rng.randrange(len(self.open))
        order = self.open[index]
        event = self._action(order, at)
        if order.closed and order.payable == 0:
            self._drop(index)
        return event

    def _action(self, order: OpenOrder, at: datetime) -> ev.Event:
        rng = self.rng
        if order.closed:
            return self._pay(order, at)
        roll = rng.random()
        if roll < 0.35 and order.payable > 0:
            return self._pay(order, at)
        if 0.90 <= roll < 0.97:
            return self._amend(order, at)
        if roll >= 0.97 and order.delivered * order.price >= order.paid:
            order.cancelled = True
            self._revalue(order, order.delivered, order.price)
            return ev.OrderCancelled(self.next_id(0), at, order.order_id, "Synthetic cancellation")
        return self._deliver(order, at)

    def _deliver(self, order: OpenOrder, at: datetime) -> ev.DeliveryRecorded:
        remaining = order.quantity - order.delivered
        quantity = min(remaining, max(1, order.quantity // self.rng.choice(LOT_DIVISORS)))
        order.delivered += quantity
        return ev.DeliveryRecorded(
            self.next_id(0), at, order.order_id, self.next_id(3), quantity, order.destination
        )

    def _pay(self, order: OpenOrder, at: datetime) -> ev.PaymentRecorded:
        payable = order.payable
        if self.rng.random() < 0.5:
            payable = max(1, payable * self.rng.randrange(20, 90) // 100)
        order.paid += payable
        rate = self.rng.choice(RATES[order.currency])
        return ev.PaymentRecorded(
            self.next_id(0),
            at,
            order.order_id,
            self.next_id(4),
            _money(payable),
            order.currency,
            rate,
        )

    def _amend(self, order: OpenOrder, at: datetime) -> ev.OrderAmended:
        rng = self.rng
        quantity: int | None = None
        price: int | None = None
        what = rng.randrange(3)
        if what != 1:
            quantity = order.delivered + 1 + rng.randrange(order.quantity)
        if what != 0:
            price = max(1, order.price * rng.randrange(90, 121) // 100)
        new_quantity = quantity or order.quantity
        new_price = price or order.price
        if new_quantity * new_price < order.paid:
            # A cut below what was already paid is not a valid renegotiation: grow instead.
            quantity, price = order.quantity + 1 + rng.randrange(order.quantity), None
            new_quantity, new_price = quantity, order.price
        self._revalue(order, new_quantity, new_price)
        return ev.OrderAmended(
            self.next_id(0),
            at,
            order.order_id,
            quantity,
            None if price is None else _money(price),
            "Synthetic renegotiation",
        )

    def _revalue(self, order: OpenOrder, quantity: int, price: int) -> None:
        value = order_value(quantity, _money(price), order.rate)
        self.oracle.add_value(order.key, value - order.value_usd)
        order.quantity, order.price, order.value_usd = quantity, price, value

    def target(self, at: datetime) -> ev.StockpileTargetSet:
        rng = self.rng
        caliber = rng.choice((155, 155, 105, 120, 81))
        country = rng.choice(NATO_MEMBERS_2023)
        quantity = rng.randrange(1000, 500000)
        return ev.StockpileTargetSet(self.next_id(0), at, country, caliber, quantity, AUTHORITY)

    def invalid(self, at: datetime) -> tuple[ev.Event, str]:
        """A deliberate fault and the reason a correct ledger refuses (or drops) it."""
        rng = self.rng
        kind = rng.randrange(3)
        if kind == 0 and self.last is not None:
            return self.last, "redelivered"  # the same event again: safe
        if kind == 1:
            candidates = [o for o in self.open[-8:] if not o.closed]
            if candidates:
                order = rng.choice(candidates)
                quantity = order.quantity - order.delivered + 1 + rng.randrange(10)
                event = ev.DeliveryRecorded(
                    self.next_id(0), at, order.order_id, self.next_id(3), quantity, None
                )
                return event, "over_delivery"
        event = ev.DeliveryRecorded(self.next_id(0), at, self.next_id(5), self.next_id(3), 1, None)
        return event, "unknown_order"


def synthetic_events(
    events: int,
    orders: int | None = None,
    seed: int = 1,
    start: datetime = DEFAULT_START,
    *,
    invalid_ratio: float = 0.0,
    oracle: SyntheticOracle | None = None,
    max_open: int = DEFAULT_MAX_OPEN,
) -> Iterator[ev.Event]:
    """Exactly `events` events (lazily), valid lifecycles sorted by time, same for a seed.

    `orders` is how many OrderPlaced to spread over the stream (default: about events // 8,
    more whenever every tracked order is settled); at most `max_open` orders are tracked at
    once, and once all `orders` are settled the remaining events are StockpileTargetSet.
    With `invalid_ratio` > 0 that share of events is deliberately faulty (a redelivered
    duplicate, an over-delivery, an unknown order); `oracle`, if given, is updated as
    events are yielded.
    """
    if events < 0 or not 0.0 <= invalid_ratio <= 1.0 or max_open < 1:
        raise ValueError("events >= 0, 0 <= invalid_ratio <= 1 and max_open >= 1 required")
    # Without an explicit count, an empty window is refilled at once (never idle); with
    # one, exactly that many are placed unless faults crowd out the last steps.
    cap = events if orders is None else min(orders, events)
    wanted = max(1, events // 8) if orders is None else cap
    gen = _Generator("events", seed, start, oracle)
    rng, stats = gen.rng, gen.oracle
    placed = 0
    for step in range(events):
        at = gen.tick()
        event: ev.Event
        if invalid_ratio and rng.random() < invalid_ratio:
            event, reason = gen.invalid(at)
            stats.rejected[reason] += 1
        else:
            # Ceiling division front-loads placements so the stream never starts idle.
            due = -(-(step + 1) * wanted // events)
            if placed < due or (not gen.open and placed < cap):
                event = gen.open_order(at, max_open)
                placed += 1
            elif gen.open and rng.random() >= 0.005:
                event = gen.act(at)
            else:
                event = gen.target(at)
            gen.last = event
            stats.applied_by_type[type(event).__name__] += 1
        stats.events += 1
        stats.events_by_type[type(event).__name__] += 1
        yield event


def synthetic_placed(
    n: int, seed: int = 1, start: datetime = DEFAULT_START
) -> Iterator[ev.OrderPlaced]:
    """Only OrderPlaced events, independent of one another (for publish benchmarks)."""
    gen = _Generator("placed", seed, start, None)
    for _ in range(n):
        yield gen.place(gen.tick())[0]
