"""The audit page's four charts, drawn from the same queries the /v1 JSON routes answer with."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal, get_args

from procledger.adapters.postgres.audit_reader import Connection
from procledger.audit import charts, history, queries
from procledger.audit.filters import Clocks, OrderFilter
from procledger.domain.reference import HEADLINE_CALIBER

HEADLINE_USD = Decimal(1_000_000_000)
ChartName = Literal["cumulative-155mm", "stockpile", "buyers", "rejections"]
CHARTS: tuple[str, ...] = get_args(ChartName)


def _usd(value: charts.Number) -> str:
    return f"USD {charts.grouped(value)}"


def cumulative_155mm(conn: Connection, flt: OrderFilter, clocks: Clocks) -> str:
    """155mm value ordered, summed by business date of placement, against the USD 1bn line."""
    only = OrderFilter(flt.buyer, HEADLINE_CALIBER, flt.placed_from, flt.placed_to, flt.status)
    rows = queries.orders(conn, only, clocks, None).rows  # sorted by placement time
    by_day: dict[str, Decimal] = {}
    for row in rows:
        day = str(row["placed_at"])[:10]
        by_day[day] = by_day.get(day, Decimal(0)) + Decimal(str(row["value_usd"]))
    running, points = Decimal(0), []
    for day, value in by_day.items():
        running += value
        points.append((day, running))
    return charts.step_line(
        "Cumulative 155mm value ordered, by business date of placement",
        "USD (at placement rates)",
        points,
        "155mm ordered, cumulative",
        positions=[date.fromisoformat(day).toordinal() for day, _ in points],
        reference=(HEADLINE_USD, "USD 1bn"),
        fmt=_usd,
    )


def stockpile(conn: Connection, flt: OrderFilter, clocks: Clocks) -> str:
    """Per country and calibre: the target in force, holdings (delivered) and the gap."""
    rows = queries.stockpile(conn, flt, clocks).rows
    held = [int(str(r["delivered_quantity"])) for r in rows]
    labels = [f"{r['country']} {r['caliber_mm']}mm" for r in rows]
    return charts.bars(
        "Stockpile target, holdings and gap per country and calibre",
        "quantity (rounds)",
        labels,
        [
            charts.Series("target", [int(str(r["target_quantity"])) for r in rows]),
            charts.Series("holdings (delivered)", held),
            charts.Series("gap", [max(0, int(str(r["gap"]))) for r in rows]),
        ],
    )


def buyers(conn: Connection, flt: OrderFilter, clocks: Clocks) -> str:
    """Ordered versus delivered quantity per buyer, with the current filters and clocks."""
    rows = queries.totals(conn, ("buyer",), flt, clocks).rows
    return charts.bars(
        "Ordered versus delivered quantity by buyer",
        "quantity",
        [str(r["buyer"]) for r in rows],
        [
            charts.Series("ordered", [int(str(r["ordered_quantity"])) for r in rows]),
            charts.Series("delivered", [int(str(r["delivered_quantity"])) for r in rows]),
        ],
    )


def _bucket_size(span: timedelta) -> timedelta:
    """The smallest round width giving at most 12 buckets over the span."""
    for size in (1, 5, 15, 60, 300, 900, 3600, 6 * 3600, 86_400, 7 * 86_400, 30 * 86_400):
        if span / timedelta(seconds=size) < 12:
            return timedelta(seconds=size)
    return timedelta(days=365)


def rejections(conn: Connection, known_at: datetime | None, reason: str | None = None) -> str:
    """Rejected records per reason code, counted per bucket of record time."""
    page = history.rejections(conn, reason, None, known_at, None, 0)
    stamps = [
        (str(r["reason_code"]), datetime.fromisoformat(str(r["recorded_at"]))) for r in page.rows
    ]
    reasons = sorted({code for code, _ in stamps})
    categories: list[str] = []
    counts: Counter[tuple[str, str]] = Counter()
    if stamps:
        first = min(t for _, t in stamps)
        size = _bucket_size(max(t for _, t in stamps) - first)
        epoch = datetime(2000, 1, 1, tzinfo=UTC)
        start = epoch + ((first - epoch) // size) * size
        width = (max(t for _, t in stamps) - start) // size + 1
        fmt = "%Y-%m-%d" if size >= timedelta(days=1) else "%Y-%m-%d %H:%M:%S"
        categories = [(start + size * i).strftime(fmt) for i in range(width)]
        for code, t in stamps:
            counts[(code, categories[(t - start) // size])] += 1
    series = [charts.Series(code, [counts[(code, c)] for c in categories]) for code in reasons]
    return charts.bars(
        "Rejections by reason over record time (bucket start, UTC)",
        "records",
        categories,
        series or [charts.Series("rejections", [])],
    )


def render(name: str, conn: Connection, flt: OrderFilter, clocks: Clocks, **extra: Any) -> str:
    """One chart by its route name."""
    if name == "cumulative-155mm":
        return cumulative_155mm(conn, flt, clocks)
    if name == "stockpile":
        return stockpile(conn, flt, clocks)
    if name == "buyers":
        return buyers(conn, flt, clocks)
    return rejections(conn, clocks.known_at, extra.get("reason"))
