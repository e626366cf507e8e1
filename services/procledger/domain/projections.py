"""Pure projections of ledger state: the oracle the PostgreSQL projections are checked against."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from procledger.domain.state import LedgerState, Order

DimensionValue = str | int | None


def _month(placed_at: datetime) -> str:
    # As ledger.order_totals does: the UTC month; a naive time is taken to be UTC already.
    if placed_at.tzinfo is not None:
        placed_at = placed_at.astimezone(UTC)
    return placed_at.strftime("%Y-%m")


DIMENSIONS: dict[str, Callable[[Order], DimensionValue]] = {
    "buyer": lambda o: o.buyer,
    "supplier": lambda o: o.supplier,
    "caliber_mm": lambda o: o.caliber_mm,
    "purpose": lambda o: o.purpose.value,
    "currency": lambda o: o.currency,
    "month": lambda o: _month(o.placed_at),
}


@dataclass(frozen=True, slots=True)
class TotalsRow:
    """One group of orders: its dimension values (in the order asked for) and its sums."""

    key: tuple[tuple[str, DimensionValue], ...]
    ordered_quantity: int
    ordered_value_usd: Decimal
    delivered_quantity: int
    paid_usd: Decimal
    orders: int

    def get(self, dimension: str) -> DimensionValue:
        """The group's value of one dimension it was grouped by."""
        return dict(self.key)[dimension]


def totals(state: LedgerState, by: Sequence[str]) -> list[TotalsRow]:
    """Aggregate orders by any subset of DIMENSIONS; rows sorted by key, NULLs (None) last."""
    unknown = [d for d in by if d not in DIMENSIONS]
    if unknown:
        raise ValueError(f"unknown totals dimension(s) {unknown}; known: {sorted(DIMENSIONS)}")
    getters = [DIMENSIONS[d] for d in by]
    sums: dict[tuple[DimensionValue, ...], list[int | Decimal]] = {}
    for order in state.orders.values():
        group = tuple(get(order) for get in getters)
        acc = sums.get(group)
        if acc is None:
            acc = sums[group] = [0, Decimal(0), 0, Decimal(0), 0]
        acc[0] += order.quantity
        acc[1] += order.value_usd
        acc[2] += order.delivered_quantity
        acc[3] += order.paid_usd
        acc[4] += 1
    rows = [
        TotalsRow(
            tuple(zip(by, group, strict=True)), int(q), Decimal(v), int(d), Decimal(p), int(n)
        )
        for group, (q, v, d, p, n) in sums.items()
    ]
    rows.sort(key=lambda row: tuple((value is None, value) for _, value in row.key))
    return rows
