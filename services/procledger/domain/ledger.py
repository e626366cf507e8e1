"""The pure fold: decide each event against the ledger state, apply what the rules allow."""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from procledger.domain import errors as err
from procledger.domain import postings as post
from procledger.domain.events import (
    DeliveryRecorded,
    Event,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    PaymentRecorded,
    StockpileTargetSet,
)
from procledger.domain.money import order_value
from procledger.domain.postings import EntryRef, Posting
from procledger.domain.state import (
    LedgerState,
    Order,
    OrderStatus,
    StockpileTarget,
    evolve,
    placed_order,
)
from procledger.domain.values import immutable

__all__ = [
    "Applied",
    "FoldResult",
    "LedgerState",
    "Order",
    "OrderStatus",
    "Outcome",
    "Rejected",
    "StockpileTarget",
    "decide",
    "empty_state",
    "fold",
]

_OPEN = OrderStatus.OPEN


@immutable
class Applied:
    """The event is accepted: the order (or target) as it now stands, and its postings.

    For a StockpileTargetSet, `target` is the target in force after the event: a late
    target older than the current one is applied (journaled) but leaves the current one.
    """

    order: Order | None
    target: StockpileTarget | None
    postings: tuple[Posting, ...]


@immutable
class Rejected:
    """The event breaks a rule: the rejection code and a message naming the numbers."""

    code: str
    message: str


Outcome = Applied | Rejected


@dataclass(frozen=True, slots=True)
class FoldResult:
    """The state after the events, and each event's outcome in input order."""

    state: LedgerState
    outcomes: tuple[tuple[Event, Outcome], ...]


def empty_state() -> LedgerState:
    """A ledger with no orders, no targets and no applied events."""
    return LedgerState(orders={}, targets={}, seen_event_ids=frozenset())


def decide(state: LedgerState, event: Event) -> Outcome:
    """Accept or reject one event against `state`, which is left untouched."""
    return _outcome(state.orders, state.targets, state.seen_event_ids, event)


def fold(state: LedgerState, events: Iterable[Event]) -> FoldResult:
    """Decide and apply events in order; O(n): the input mappings are copied once per call."""
    orders = dict(state.orders)
    targets = dict(state.targets)
    seen = set(state.seen_event_ids)
    outcomes: list[tuple[Event, Outcome]] = []
    for event in events:
        outcome = _outcome(orders, targets, seen, event)
        if type(outcome) is Applied:
            # Only applied events count as seen: a rejected event id may be sent again
            # (corrected), and the journal, which the store reloads seen ids from, holds
            # only applied events, so batch boundaries never change a decision.
            seen.add(event.event_id)
            if outcome.order is not None:
                orders[outcome.order.order_id] = outcome.order
            elif outcome.target is not None:
                targets[(outcome.target.country, outcome.target.caliber_mm)] = outcome.target
        outcomes.append((event, outcome))
    new_state = LedgerState(
        orders=MappingProxyType(orders),
        targets=MappingProxyType(targets),
        seen_event_ids=frozenset(seen),
    )
    return FoldResult(new_state, tuple(outcomes))


def _outcome(
    orders: Mapping[str, Order],
    targets: Mapping[tuple[str, int], StockpileTarget],
    seen: Container[str],
    event: Event,
) -> Outcome:
    try:
        if event.event_id in seen:
            raise err.DuplicateEvent(f"event {event.event_id} was already applied")
        if isinstance(event, StockpileTargetSet):
            return Applied(None, _target(targets, event), ())
        if isinstance(event, OrderPlaced):
            return _place(orders, event)
        order = orders.get(event.order_id)
        if order is None:
            raise err.UnknownOrder(
                f"{type(event).__name__} {event.event_id} refers to order {event.order_id},"
                " which was never placed"
            )
        if isinstance(event, PaymentRecorded):
            return _pay(order, event)
        if order.status != _OPEN:
            raise err.OrderClosed(
                f"order {order.order_id} is {order.status.value}; "
                f"{type(event).__name__} {event.event_id} needs an open order"
            )
        if isinstance(event, DeliveryRecorded):
            return _deliver(order, event)
        if isinstance(event, OrderAmended):
            return _amend(order, event)
        return _cancel(order, event)
    except err.LedgerRuleViolation as violation:
        return Rejected(violation.code, str(violation))


def _target(
    targets: Mapping[tuple[str, int], StockpileTarget], event: StockpileTargetSet
) -> StockpileTarget:
    current = targets.get((event.country, event.caliber_mm))
    # Latest business time wins, whatever the arrival order; ties go to the later arrival.
    if current is not None and event.occurred_at < current.set_at:
        return current
    return StockpileTarget(
        event.country, event.caliber_mm, event.target_quantity, event.authority, event.occurred_at
    )


def _place(orders: Mapping[str, Order], event: OrderPlaced) -> Applied:
    if event.order_id in orders:
        raise err.DuplicateOrder(
            f"order {event.order_id} was already placed; {event.event_id} cannot place it again"
        )
    order = placed_order(event)
    return _applied(order, post.commitment_change(_ref(event, order), order.value, order.value_usd))


def _amend(order: Order, event: OrderAmended) -> Applied:
    where = f"amendment {event.event_id} of order {order.order_id}"
    if event.quantity is None and event.unit_price is None:
        raise err.InvalidAmendment(f"{where} changes neither quantity nor unit price")
    if event.quantity is not None and event.quantity <= 0:
        raise err.InvalidAmendment(f"{where} sets quantity {event.quantity}; it must be positive")
    if event.unit_price is not None and event.unit_price <= 0:
        raise err.InvalidAmendment(
            f"{where} sets unit price {event.unit_price}; it must be positive"
        )
    quantity = order.quantity if event.quantity is None else event.quantity
    price = order.unit_price if event.unit_price is None else event.unit_price
    delivered, rate, cur = order.delivered_quantity, order.usd_rate, order.currency
    if quantity < delivered:
        raise err.QuantityBelowDelivered(
            f"{where} would cut it to {quantity}, below the {delivered} already delivered"
        )
    value = order_value(quantity, price)
    if value < order.paid:
        raise err.AmendmentBelowPaid(
            f"{where} would bring its value to {value} {cur}, below the {order.paid} {cur}"
            " already paid"
        )
    value_usd = order_value(quantity, price, rate)
    # The new price applies to the whole order, so goods already received are revalued:
    # delivered value stays order_value(delivered, price) and a full delivery equals value.
    received = order_value(delivered, price)
    received_usd = order_value(delivered, price, rate)
    new = evolve(
        order,
        unit_price=price,
        quantity=quantity,
        value=value,
        value_usd=value_usd,
        delivered_value=received,
        delivered_value_usd=received_usd,
        status=OrderStatus.FULFILLED if quantity == delivered else _OPEN,
        updated_at=event.occurred_at,
    )
    ref = _ref(event, order)
    was_open = order.value - order.delivered_value
    was_open_usd = order.value_usd - order.delivered_value_usd
    return _applied(
        new,
        [
            *post.commitment_change(
                ref, value - received - was_open, value_usd - received_usd - was_open_usd
            ),
            *post.receipt_change(
                ref, received - order.delivered_value, received_usd - order.delivered_value_usd
            ),
        ],
    )


def _cancel(order: Order, event: OrderCancelled) -> Applied:
    # Delivered value is always order_value(delivered, price), so the value shrinks to it.
    new = evolve(
        order,
        quantity=order.delivered_quantity,
        value=order.delivered_value,
        value_usd=order.delivered_value_usd,
        status=OrderStatus.CANCELLED,
        updated_at=event.occurred_at,
    )
    released = order.value - order.delivered_value
    released_usd = order.value_usd - order.delivered_value_usd
    return _applied(new, post.commitment_change(_ref(event, order), -released, -released_usd))


def _deliver(order: Order, event: DeliveryRecorded) -> Applied:
    oid = order.order_id
    if event.delivery_id in order.delivery_ids:
        raise err.DuplicateDelivery(
            f"delivery {event.delivery_id} of order {oid} was already recorded"
        )
    delivered = order.delivered_quantity + event.quantity
    if delivered > order.quantity:
        raise err.OverDelivery(
            f"delivery of {event.quantity} would bring order {oid} to {delivered} delivered,"
            f" above the {order.quantity} committed"
        )
    # Cumulative rounding: the delivered value is recomputed from the running quantity, so
    # the deliveries of a fulfilled order add up to its value to the cent.
    received = order_value(delivered, order.unit_price)
    received_usd = order_value(delivered, order.unit_price, order.usd_rate)
    new = evolve(
        order,
        delivered_quantity=delivered,
        delivered_value=received,
        delivered_value_usd=received_usd,
        status=OrderStatus.FULFILLED if delivered == order.quantity else _OPEN,
        updated_at=event.occurred_at,
        delivery_ids=order.delivery_ids | {event.delivery_id},
    )
    return _applied(
        new,
        post.delivery(
            _ref(event, order),
            received - order.delivered_value,
            received_usd - order.delivered_value_usd,
        ),
    )


def _pay(order: Order, event: PaymentRecorded) -> Applied:
    oid, cur = order.order_id, order.currency
    if event.currency != cur:
        raise err.CurrencyMismatch(
            f"payment {event.payment_id} is in {event.currency}, but order {oid} is in {cur}"
        )
    if event.payment_id in order.payment_ids:
        raise err.DuplicatePayment(
            f"payment {event.payment_id} of order {oid} was already recorded"
        )
    paid = order.paid + event.amount
    if paid > order.value:
        raise err.OverPayment(
            f"payment of {event.amount} {cur} would bring order {oid} to {paid} {cur} paid,"
            f" above its value of {order.value} {cur}"
        )
    # order_value(1, amount, rate) is the exact product rounded half-even to cents.
    at_payment = order_value(1, event.amount, event.usd_rate)
    at_placement = order_value(1, event.amount, order.usd_rate)
    new = evolve(
        order,
        paid=paid,
        paid_usd=order.paid_usd + at_payment,
        fx_difference_usd=order.fx_difference_usd + (at_payment - at_placement),
        updated_at=event.occurred_at,
        payment_ids=order.payment_ids | {event.payment_id},
    )
    return _applied(new, post.payment(_ref(event, order), event.amount, at_placement, at_payment))


def _ref(event: Event, order: Order) -> EntryRef:
    return EntryRef(event.event_id, order.order_id, order.currency)


def _applied(order: Order, postings: list[Posting]) -> Applied:
    return Applied(order, None, tuple(postings))
