"""State of the synthetic generator: its expectations (the oracle) and its open orders."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal

from procledger.domain.events import OrderPlaced


@dataclass
class SyntheticOracle:
    """What a correct ledger must report after folding the generated stream once."""

    events: int = 0
    orders: int = 0
    events_by_type: Counter[str] = field(default_factory=Counter)
    applied_by_type: Counter[str] = field(default_factory=Counter)
    rejected: Counter[str] = field(default_factory=Counter)
    value_usd: dict[tuple[str, int | None], Decimal] = field(default_factory=dict)

    @property
    def applied(self) -> int:
        """Events the ledger must accept."""
        return self.applied_by_type.total()

    def total_value_usd(self) -> Decimal:
        """Ordered value over every buyer and calibre."""
        return sum(self.value_usd.values(), Decimal("0.00"))

    def add_value(self, key: tuple[str, int | None], delta: Decimal) -> None:
        """Move the expected ordered value of one (buyer, calibre) by `delta`."""
        self.value_usd[key] = self.value_usd.get(key, Decimal("0.00")) + delta


class OpenOrder:
    """Generator-side state of one open order; money kept in integer cents for speed."""

    __slots__ = (
        "cancelled",
        "currency",
        "delivered",
        "destination",
        "key",
        "order_id",
        "paid",
        "price",
        "quantity",
        "rate",
        "value_usd",
    )

    def __init__(self, placed: OrderPlaced, price_cents: int, value_usd: Decimal) -> None:
        self.order_id = placed.order_id
        self.key = (placed.buyer, placed.caliber_mm)
        self.currency = placed.currency
        self.rate = placed.usd_rate
        self.destination = placed.destination
        self.quantity = placed.quantity
        self.price = price_cents
        self.delivered = 0
        self.paid = 0
        self.cancelled = False
        self.value_usd = value_usd

    @property
    def closed(self) -> bool:
        return self.cancelled or self.delivered >= self.quantity

    @property
    def payable(self) -> int:
        # Two-place prices make the order-currency value an exact number of cents.
        return self.quantity * self.price - self.paid
