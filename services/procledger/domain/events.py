"""Order lifecycle events as immutable values: the vocabulary of the whole product."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from procledger.domain.values import immutable


class Purpose(StrEnum):
    """Why an order was placed (the Avro enum of the same name)."""

    NATIONAL_STOCKPILE = "NATIONAL_STOCKPILE"
    UKRAINE_SUPPORT = "UKRAINE_SUPPORT"
    NATO_COMMON_FUNDING = "NATO_COMMON_FUNDING"
    OTHER = "OTHER"


@immutable
class OrderPlaced:
    """A contract or call-off: the order starts open with its full quantity committed."""

    event_id: str
    occurred_at: datetime
    order_id: str
    buyer: str
    supplier: str
    item_description: str
    caliber_mm: int | None
    quantity: int
    unit_price: Decimal
    currency: str
    usd_rate: Decimal
    purpose: Purpose
    destination: str | None
    supplier_country: str | None = None
    contract_ref: str | None = None
    nsn: str | None = None
    # Added with schema OrderPlaced.v2; records written with v1 decode with None here.
    expected_delivery: datetime | None = None


@immutable
class OrderAmended:
    """A renegotiation: a new total quantity, a new unit price, or both."""

    event_id: str
    occurred_at: datetime
    order_id: str
    quantity: int | None
    unit_price: Decimal | None
    reason: str


@immutable
class OrderCancelled:
    """The undelivered remainder of an order is released and the order closed."""

    event_id: str
    occurred_at: datetime
    order_id: str
    reason: str


@immutable
class DeliveryRecorded:
    """A lot arrived at a depot or a destination such as Ukraine."""

    event_id: str
    occurred_at: datetime
    order_id: str
    delivery_id: str
    quantity: int
    destination: str | None


@immutable
class PaymentRecorded:
    """Money paid to the supplier against an order, in the order's currency."""

    event_id: str
    occurred_at: datetime
    order_id: str
    payment_id: str
    amount: Decimal
    currency: str
    usd_rate: Decimal


@immutable
class StockpileTargetSet:
    """A minimum stock a member must hold of one calibre, set by an authority."""

    event_id: str
    occurred_at: datetime
    country: str
    caliber_mm: int
    target_quantity: int
    authority: str


OrderEvent = OrderPlaced | OrderAmended | OrderCancelled | DeliveryRecorded | PaymentRecorded
Event = OrderEvent | StockpileTargetSet

EVENT_TYPES: dict[str, type[Event]] = {
    cls.__name__: cls
    for cls in (
        OrderPlaced,
        OrderAmended,
        OrderCancelled,
        DeliveryRecorded,
        PaymentRecorded,
        StockpileTargetSet,
    )
}


def event_type(event: Event) -> str:
    """The event's type name, as carried in Kafka headers and the journal."""
    return type(event).__name__


def event_key(event: Event) -> str:
    """The Kafka key: one order's events share a partition, targets are keyed by country."""
    if isinstance(event, StockpileTargetSet):
        return event.country
    return event.order_id
