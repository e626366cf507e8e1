"""A small, independent replay of order events: the oracle the scenarios are checked against."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from procledger.domain import events as ev
from procledger.domain.money import order_value

# This module deliberately does not import the production ledger: it is the second,
# simpler opinion the scenarios (and their tests) are checked against. Its rules are the
# conservative reading of the lifecycle, so a scenario it accepts should be accepted by any
# sensible ledger.

ZERO = Decimal(0)


@dataclass(slots=True)
class OrderState:
    """Where one order stands: committed quantity, price, deliveries and payments so far."""

    placed: ev.OrderPlaced
    quantity: int
    unit_price: Decimal
    delivered: int = 0
    paid: Decimal = ZERO
    cancelled: bool = False
    last_at: datetime | None = None

    @property
    def closed(self) -> bool:
        """Cancelled or fully delivered: only payments may follow."""
        return self.cancelled or self.delivered >= self.quantity

    def value(self) -> Decimal:
        """Order value in the order currency, cents half-even."""
        return order_value(self.quantity, self.unit_price)

    def value_usd(self) -> Decimal:
        """Order value in USD at the placement rate: the ledger's 'ordered value'."""
        return order_value(self.quantity, self.unit_price, self.placed.usd_rate)


@dataclass
class Replay:
    """Folds events one by one; `apply` returns None or the reason the event is refused."""

    orders: dict[str, OrderState] = field(default_factory=dict)
    seen: dict[str, ev.Event] = field(default_factory=dict)
    applied: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    targets: dict[tuple[str, int], ev.StockpileTargetSet] = field(default_factory=dict)

    def apply(self, event: ev.Event) -> str | None:
        """Apply one event if the lifecycle allows it; count it either way."""
        reason = self._check_and_apply(event)
        if reason is None:
            self.applied[ev.event_type(event)] += 1
        else:
            self.rejected[reason] += 1
        return reason

    def _check_and_apply(self, event: ev.Event) -> str | None:
        first = self.seen.get(event.event_id)
        if first is not None:
            return "redelivered" if first == event else "event_id_conflict"
        if isinstance(event, ev.StockpileTargetSet):
            if event.target_quantity < 0:
                return "invalid"
            self.seen[event.event_id] = event
            self.targets[(event.country, event.caliber_mm)] = event
            return None
        if isinstance(event, ev.OrderPlaced):
            reason = self._place(event)
        else:
            state = self.orders.get(event.order_id)
            if state is None:
                return "unknown_order"
            if state.last_at is not None and event.occurred_at < state.last_at:
                return "out_of_order"
            reason = self._change(state, event)
            if reason is None:
                state.last_at = event.occurred_at
        if reason is None:
            self.seen[event.event_id] = event
        return reason

    def _place(self, event: ev.OrderPlaced) -> str | None:
        if event.order_id in self.orders:
            return "duplicate_order"
        if event.quantity <= 0 or event.unit_price <= 0 or event.usd_rate <= 0:
            return "invalid"
        self.orders[event.order_id] = OrderState(
            event, event.quantity, event.unit_price, last_at=event.occurred_at
        )
        return None

    def _change(
        self,
        state: OrderState,
        event: ev.OrderAmended | ev.OrderCancelled | ev.DeliveryRecorded | ev.PaymentRecorded,
    ) -> str | None:
        if isinstance(event, ev.PaymentRecorded):
            return _pay(state, event)
        if state.closed:
            return "order_closed"
        if isinstance(event, ev.DeliveryRecorded):
            if event.quantity <= 0:
                return "invalid"
            if state.delivered + event.quantity > state.quantity:
                return "over_delivery"
            state.delivered += event.quantity
            return None
        if isinstance(event, ev.OrderAmended):
            return _amend(state, event)
        # Cancellation: the undelivered remainder is released, value shrinks to what arrived.
        if order_value(state.delivered, state.unit_price) < state.paid:
            return "value_below_paid"
        state.quantity = state.delivered
        state.cancelled = True
        return None

    def value_usd(self, order_id: str) -> Decimal:
        """Current ordered value in USD of one order."""
        return self.orders[order_id].value_usd()


def _amend(state: OrderState, event: ev.OrderAmended) -> str | None:
    if event.quantity is None and event.unit_price is None:
        return "invalid"
    quantity = state.quantity if event.quantity is None else event.quantity
    price = state.unit_price if event.unit_price is None else event.unit_price
    if price <= 0:
        return "invalid"
    # Cutting below what already arrived (or exactly to it) would close the order silently.
    if quantity <= state.delivered:
        return "quantity_below_delivered"
    if order_value(quantity, price) < state.paid:
        return "value_below_paid"
    state.quantity, state.unit_price = quantity, price
    return None


def _pay(state: OrderState, event: ev.PaymentRecorded) -> str | None:
    if event.currency != state.placed.currency:
        return "currency_mismatch"
    exponent = event.amount.as_tuple().exponent
    if event.amount <= 0 or event.usd_rate <= 0 or not isinstance(exponent, int) or exponent < -2:
        return "invalid"
    if state.paid + event.amount > state.value():
        return "over_payment"
    state.paid += event.amount
    return None
