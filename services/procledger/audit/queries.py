"""Totals, orders and stockpile: live from the audit views, or re-folded on either clock."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from psycopg.rows import dict_row

from procledger.adapters.postgres.audit_reader import Connection, JSONValue, fixed, money, ts
from procledger.adapters.postgres.rows import order_from_row
from procledger.audit.filters import Clocks, OrderFilter
from procledger.audit.timetravel import LIVE, Unseen, set_conditions, state_at, unseen
from procledger.domain.projections import DIMENSIONS
from procledger.domain.projections import totals as domain_totals
from procledger.domain.state import LedgerState, Order, StockpileTarget

Row = dict[str, JSONValue]

TOTALS_COLUMNS = (
    "ordered_quantity",
    "ordered_value_usd",
    "delivered_quantity",
    "paid_usd",
    "fx_difference_usd",
    "orders",
)
ORDER_COLUMNS = (
    "order_id", "buyer", "supplier", "supplier_country", "item_description", "caliber_mm",
    "purpose", "currency", "usd_rate", "unit_price", "quantity", "value", "value_usd",
    "delivered_quantity", "delivered_value_usd", "paid", "paid_usd", "status", "placed_at",
    "updated_at", "destination",
)  # fmt: skip
STOCKPILE_COLUMNS = (
    "country", "caliber_mm", "target_quantity", "authority", "set_at", "ordered_quantity",
    "delivered_quantity", "gap",
)  # fmt: skip

# Whitelisted SQL per dimension: user input picks keys, never text. "C" collation sorts by
# code point, as Python does, so live and re-folded answers list groups in the same order.
_DIMENSION_SQL = {
    "buyer": 'buyer COLLATE "C"',
    "supplier": 'supplier COLLATE "C"',
    "caliber_mm": "caliber_mm",
    "purpose": 'purpose COLLATE "C"',
    "currency": 'currency::text COLLATE "C"',
    "month": "to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM') COLLATE \"C\"",
}
_ALL_ORDER_COLUMNS = (
    "order_id, buyer, supplier, supplier_country, item_description, caliber_mm, purpose, "
    "currency, usd_rate, unit_price, quantity, value, value_usd, delivered_quantity, "
    "delivered_value, delivered_value_usd, paid, paid_usd, status, placed_at, updated_at, "
    "destination, delivery_ids, payment_ids, fx_difference_usd"
)


@dataclass(frozen=True, slots=True)
class Page:
    """One page of a list: its rows and how many rows match in all."""

    columns: tuple[str, ...]
    rows: list[Row]
    total: int


def order_where(flt: OrderFilter, params: list[Any]) -> str:
    """The WHERE clause (parameterised into `params`) equivalent to OrderFilter.matches."""
    status = None if flt.status is None else flt.status.value
    conditions = set_conditions(
        params,
        ("buyer = %s", flt.buyer),
        ("caliber_mm = %s", flt.caliber_mm),
        ("placed_at >= %s", flt.placed_from),
        ("placed_at < %s", flt.placed_to),
        ("status = %s", status),
    )
    return " AND ".join(["true", *conditions])


def _filtered(state: LedgerState, flt: OrderFilter) -> list[Order]:
    return [o for o in state.orders.values() if flt.matches(o)]


@dataclass(frozen=True, slots=True)
class Travel:
    """The ledger on the clocks in two parts: the orders a base (the live projection or a
    checkpoint) holds as the clocks see them, read in SQL, and the orders re-folded."""

    base: Unseen | None  # None: every order the clocks see was folded
    folded: LedgerState

    def unchanged(self) -> tuple[str, list[Any]]:
        """The SQL condition that picks the base's orders the clocks see as it holds them."""
        assert self.base is not None
        return f"order_id NOT IN ({self.base.orders_sql})", self.base.params


def travel(conn: Connection, clocks: Clocks) -> Travel:
    """Re-fold only the orders changed between the clocks and the nearest base, or, when
    that is most of the journal, fold what the clocks see: the cost is the smaller side."""
    past = unseen(conn, clocks)
    if 2 * past.rows > past.journal_rows:
        return Travel(None, state_at(conn, clocks))
    return Travel(past, state_at(conn, clocks, of_orders=(past.orders_sql, past.params)))


def totals(conn: Connection, by: Sequence[str], flt: OrderFilter, clocks: Clocks) -> Page:
    """One row per group: ordered quantity and USD value, delivered, USD paid, FX, count.

    paid_usd - fx_difference_usd is what was paid at the placement rates, the rates every
    other USD figure uses. Without `by`, an empty range is one row of zeros, not no row.
    On the clocks, orders the clocks see as the live projection or the nearest checkpoint
    holds them are summed from it in SQL and only the orders changed between the clocks and
    it are re-folded, or, when that is most of the journal, what the clocks see is folded.
    """
    columns = (*by, *TOTALS_COLUMNS)
    if clocks.live:
        live = _live_sums(conn, by, flt)
        rows = [_totals_row(by, key, sums) for key, sums in live.items()]
        return Page(columns, rows, len(rows))
    split = travel(conn, clocks)
    sums: dict[tuple[Any, ...], list[Any]] = {}
    if split.base is not None:
        sums = _live_sums(conn, by, flt, split.unchanged(), split.base.base)
    scoped = _filtered(split.folded, flt)
    fx_by_key: dict[tuple[Any, ...], Decimal] = {}
    for o in scoped:
        key = tuple(DIMENSIONS[d](o) for d in by)
        fx_by_key[key] = fx_by_key.get(key, Decimal(0)) + o.fx_difference_usd
    scoped_state = LedgerState({o.order_id: o for o in scoped}, {}, frozenset())
    for t in domain_totals(scoped_state, by):
        key = tuple(value for _, value in t.key)
        folded = (t.ordered_quantity, t.ordered_value_usd, t.delivered_quantity, t.paid_usd)
        acc = sums.setdefault(key, [0, Decimal(0), 0, Decimal(0), Decimal(0), 0])
        for i, value in enumerate((*folded, fx_by_key[key], t.orders)):
            acc[i] += value
    # As domain totals and the live query sort: by key, NULLs last, strings by code point.
    ordered = sorted(sums.items(), key=lambda kv: tuple((v is None, v) for v in kv[0]))
    rows = [_totals_row(by, key, acc) for key, acc in ordered]
    if not rows and not by:
        rows = [_totals_row((), (), (0, 0, 0, 0, 0, 0))]
    return Page(columns, rows, len(rows))


def _live_sums(
    conn: Connection,
    by: Sequence[str],
    flt: OrderFilter,
    extra: tuple[str, list[Any]] | None = None,
    relation: str = LIVE,
) -> dict[tuple[Any, ...], list[Any]]:
    """Per group of `relation`'s orders (the live ones by default; and `extra`'s condition):
    the totals' sums, in order."""
    params: list[Any] = []
    dims = [f"{_DIMENSION_SQL[d]} AS {d}" for d in by]
    group = f" GROUP BY {', '.join(str(i + 1) for i in range(len(by)))}" if by else ""
    order = f" ORDER BY {', '.join(f'{i + 1} NULLS LAST' for i in range(len(by)))}" if by else ""
    having = " HAVING count(*) > 0" if by else ""
    where = order_where(flt, params)
    if extra is not None:
        where += f" AND {extra[0]}"
        params.extend(extra[1])
    query = (
        f"SELECT {''.join(d + ', ' for d in dims)}"
        "coalesce(sum(quantity), 0)::bigint, coalesce(sum(value_usd), 0), "
        "coalesce(sum(delivered_quantity), 0)::bigint, coalesce(sum(paid_usd), 0), "
        "coalesce(sum(fx_difference_usd), 0), count(*) "
        f"FROM {relation} WHERE {where}{group}{having}{order}"
    )
    raw = conn.execute(query, params).fetchall()
    return {tuple(r[: len(by)]): list(r[len(by) :]) for r in raw}


def _totals_row(by: Sequence[str], key: Sequence[Any], sums: Sequence[Any]) -> Row:
    row: Row = dict(zip(by, key, strict=True))
    quantity, value_usd, delivered, paid_usd, fx_usd, count = sums
    row.update(
        ordered_quantity=int(quantity),
        ordered_value_usd=money(Decimal(value_usd)),
        delivered_quantity=int(delivered),
        paid_usd=money(Decimal(paid_usd)),
        fx_difference_usd=money(Decimal(fx_usd)),
        orders=int(count),
    )
    return row


def order_row(o: Order) -> Row:
    """An order as lists, CSV and JSON show it (money 2 places, price 4, rate 8)."""
    return {
        "order_id": o.order_id,
        "buyer": o.buyer,
        "supplier": o.supplier,
        "supplier_country": o.supplier_country,
        "item_description": o.item_description,
        "caliber_mm": o.caliber_mm,
        "purpose": o.purpose.value,
        "currency": o.currency,
        "usd_rate": fixed(o.usd_rate, 8),
        "unit_price": fixed(o.unit_price, 4),
        "quantity": o.quantity,
        "value": money(o.value),
        "value_usd": money(o.value_usd),
        "delivered_quantity": o.delivered_quantity,
        "delivered_value_usd": money(o.delivered_value_usd),
        "paid": money(o.paid),
        "paid_usd": money(o.paid_usd),
        "status": o.status.value,
        "placed_at": ts(o.placed_at),
        "updated_at": ts(o.updated_at),
        "destination": o.destination,
    }


def _sort_key(o: Order) -> tuple[Any, str]:
    return (o.placed_at, o.order_id)


def orders(
    conn: Connection, flt: OrderFilter, clocks: Clocks, limit: int | None, offset: int = 0
) -> Page:
    """Orders by placement time (then id), as they stand live or on the clocks."""
    if clocks.live:
        params: list[Any] = []
        where = order_where(flt, params)
        total = conn.execute(f"SELECT count(*) FROM audit.orders WHERE {where}", params)
        count = int(total.fetchone()[0])  # type: ignore[index]
        page = " LIMIT %s OFFSET %s" if limit is not None else " OFFSET %s"
        page_params = [*params, *([limit] if limit is not None else []), offset]
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {_ALL_ORDER_COLUMNS} FROM audit.orders WHERE {where} "
                f'ORDER BY placed_at, order_id COLLATE "C"{page}',
                page_params,
            )
            found = [order_from_row(r) for r in cur.fetchall()]
        return Page(ORDER_COLUMNS, [order_row(o) for o in found], count)
    split = travel(conn, clocks)
    matching = _filtered(split.folded, flt)
    count = len(matching)
    end = None if limit is None else offset + limit
    if split.base is not None:
        # The base's first `end` matching orders, merged with the folded ones, hold the page.
        base_params: list[Any] = []
        where = order_where(flt, base_params)
        unchanged, unchanged_params = split.unchanged()
        where += f" AND {unchanged}"
        base_params += unchanged_params
        relation = split.base.base
        counted = conn.execute(f"SELECT count(*) FROM {relation} WHERE {where}", base_params)
        count += int(counted.fetchone()[0])  # type: ignore[index]
        head = " LIMIT %s" if end is not None else ""
        with conn.cursor(row_factory=dict_row) as cur:
            cur.execute(
                f"SELECT {_ALL_ORDER_COLUMNS} FROM {relation} WHERE {where} "
                f'ORDER BY placed_at, order_id COLLATE "C"{head}',
                [*base_params, *([end] if end is not None else [])],
            )
            matching += [order_from_row(r) for r in cur.fetchall()]
    matching.sort(key=_sort_key)
    return Page(ORDER_COLUMNS, [order_row(o) for o in matching[offset:end]], count)


def live_order(conn: Connection, order_id: str) -> Order | None:
    """The order's row in the live projection."""
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_ALL_ORDER_COLUMNS} FROM audit.orders WHERE order_id = %s", (order_id,)
        )
        row = cur.fetchone()
    return None if row is None else order_from_row(row)


def stockpile(conn: Connection, flt: OrderFilter, clocks: Clocks) -> Page:
    """Per country and calibre: target in force, ordered and delivered against it, the gap."""
    if clocks.live:
        params: list[Any] = []
        conditions = ["true"]
        conditions += set_conditions(
            params, ("country = %s", flt.buyer), ("caliber_mm = %s", flt.caliber_mm)
        )
        raw = conn.execute(
            "SELECT country, caliber_mm, target_quantity, authority, set_at, ordered_quantity, "
            f"delivered_quantity, gap FROM audit.stockpile WHERE {' AND '.join(conditions)} "
            'ORDER BY country COLLATE "C", caliber_mm',
            params,
        ).fetchall()
        rows = [_stockpile_row(*r) for r in raw]
        return Page(STOCKPILE_COLUMNS, rows, len(rows))
    split = travel(conn, clocks)
    sums: dict[tuple[str, int | None], list[int]] = {}
    targets = split.folded.targets
    if split.base is not None:
        unchanged, params = split.unchanged()
        raw = conn.execute(
            "SELECT buyer, caliber_mm, sum(quantity)::bigint, sum(delivered_quantity)::bigint "
            f"FROM {split.base.base} WHERE {unchanged} GROUP BY buyer, caliber_mm",
            params,
        ).fetchall()
        sums = {(r[0], r[1]): [int(r[2]), int(r[3])] for r in raw}
        # Targets have no order: their few journal rows are folded apart.
        targets = state_at(conn, clocks, extra=("order_id IS NULL", [])).targets
    for o in split.folded.orders.values():
        acc = sums.setdefault((o.buyer, o.caliber_mm), [0, 0])
        acc[0] += o.quantity
        acc[1] += o.delivered_quantity
    rows = []
    for (country, caliber), t in sorted(targets.items()):
        if flt.buyer not in (None, country) or flt.caliber_mm not in (None, caliber):
            continue
        ordered, delivered = sums.get((country, caliber), [0, 0])
        rows.append(
            {
                **target_row(t),
                "ordered_quantity": ordered,
                "delivered_quantity": delivered,
                "gap": t.target_quantity - delivered,
            }
        )
    return Page(STOCKPILE_COLUMNS, rows, len(rows))


def _stockpile_row(*values: Any) -> Row:
    row: Row = dict(zip(STOCKPILE_COLUMNS, values, strict=True))
    row["set_at"] = ts(values[4])
    return row


def target_row(t: StockpileTarget) -> Row:
    """A stockpile target as lists, CSV and JSON show it (the first five stockpile columns)."""
    return {
        "country": t.country,
        "caliber_mm": t.caliber_mm,
        "target_quantity": t.target_quantity,
        "authority": t.authority,
        "set_at": ts(t.set_at),
    }
