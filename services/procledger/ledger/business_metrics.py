"""LedgerBusinessCollector: procurement gauges from a snapshot of the ledger's projections."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from procledger.probes import Refresher

P = "procledger_ledger_"
NO_CALIBER = "none"  # orders of items without a calibre (caliber_mm is NULL)


@dataclass(frozen=True, slots=True)
class BuyerTotals:
    buyer: str
    caliber: str
    committed_value_usd: float
    committed_quantity: float
    delivered_quantity: float


@dataclass(frozen=True, slots=True)
class MonthTotals:
    month: str  # YYYY-MM of placed_at, UTC
    caliber: str
    committed_value_usd: float


@dataclass(frozen=True, slots=True)
class StockpileStatus:
    country: str
    caliber: str
    target_quantity: float
    holdings_quantity: float


@dataclass(frozen=True, slots=True)
class BusinessSnapshot:
    """What one scrape reports; `ytd_as_of` is None while no 155mm order exists."""

    buyers: tuple[BuyerTotals, ...]
    stockpile: tuple[StockpileStatus, ...]
    ytd_155_value_usd: float
    ytd_as_of: float | None
    months: tuple[MonthTotals, ...] = ()
    checkpoint_sealed: float | None = None  # Unix time; None while no checkpoint is built


def caliber_label(value: object) -> str:
    return NO_CALIBER if value is None else str(value)


class LedgerBusinessCollector(Collector):
    """Business gauges from the last snapshot of the projections, refreshed in the background.

    A scrape reads what the refresher last read and never queries PostgreSQL itself, so it
    answers at once whatever the database does (a frozen server once held more than ten scrape
    threads here). While the latest refresh failed, or one has been waiting past its timeout,
    the gauges are left out rather than reported stale, and
    procledger_ledger_projection_scrape_success says 0; the snapshot's age is always there.
    """

    def __init__(self, refresher: Refresher[BusinessSnapshot]) -> None:
        self._refresher = refresher

    def describe(self) -> Iterator[Metric]:
        # Names only, so registering the collector does not query the database.
        yield from _families()

    def collect(self) -> Iterator[Metric]:
        state = self._refresher.state()
        snapshot = state.value if state.ok else None
        families = _families()
        by_name = {f.name: f for f in families}
        by_name[P + "projection_scrape_success"].add_metric([], 0 if snapshot is None else 1)
        if state.duration_s is not None:
            by_name[P + "projection_scrape_duration_seconds"].add_metric([], state.duration_s)
        if state.value_age_s is not None:
            by_name[P + "projection_snapshot_age_seconds"].add_metric([], state.value_age_s)
        if snapshot is not None:
            _add_snapshot(by_name, snapshot)
        for family in families:
            if family.samples:
                yield family


def _add_snapshot(by_name: dict[str, GaugeMetricFamily], snapshot: BusinessSnapshot) -> None:
    for b in snapshot.buyers:
        labels = [b.buyer, b.caliber]
        by_name[P + "committed_value_usd"].add_metric(labels, b.committed_value_usd)
        by_name[P + "committed_quantity"].add_metric(labels, b.committed_quantity)
        by_name[P + "delivered_quantity"].add_metric(labels, b.delivered_quantity)
    for s in snapshot.stockpile:
        labels = [s.country, s.caliber]
        by_name[P + "stockpile_target_quantity"].add_metric(labels, s.target_quantity)
        by_name[P + "stockpile_holdings_quantity"].add_metric(labels, s.holdings_quantity)
        gap = max(0.0, s.target_quantity - s.holdings_quantity)
        by_name[P + "stockpile_gap_quantity"].add_metric(labels, gap)
    for m in snapshot.months:
        by_name[P + "committed_value_by_month_usd"].add_metric(
            [m.month, m.caliber], m.committed_value_usd
        )
    by_name[P + "ordered_value_155mm_ytd_usd"].add_metric([], snapshot.ytd_155_value_usd)
    if snapshot.ytd_as_of is not None:
        by_name[P + "ordered_value_155mm_ytd_as_of_seconds"].add_metric([], snapshot.ytd_as_of)
    if snapshot.checkpoint_sealed is not None:
        by_name[P + "checkpoint_sealed_timestamp_seconds"].add_metric(
            [], snapshot.checkpoint_sealed
        )


def _families() -> list[GaugeMetricFamily]:
    """Fresh, empty families (a collector must not reuse families across scrapes)."""
    by_buyer = ["buyer", "caliber_mm"]
    by_country = ["country", "caliber_mm"]
    return [
        GaugeMetricFamily(
            P + "projection_scrape_success",
            "1 if the latest read of the ledger projections succeeded and none is overdue, else 0",
        ),
        GaugeMetricFamily(
            P + "projection_scrape_duration_seconds",
            "Time the last completed read of the ledger projections took",
        ),
        GaugeMetricFamily(
            P + "projection_snapshot_age_seconds",
            "Age of the last snapshot of the ledger projections read successfully",
        ),
        GaugeMetricFamily(
            P + "committed_value_usd",
            "Value of orders in USD at their order-time rates, net of amendments and "
            "cancellations (a cancelled order keeps only its delivered value)",
            labels=by_buyer,
        ),
        GaugeMetricFamily(
            P + "committed_quantity",
            "Quantity ordered, net of amendments and cancellations",
            labels=by_buyer,
        ),
        GaugeMetricFamily(P + "delivered_quantity", "Quantity delivered", labels=by_buyer),
        GaugeMetricFamily(
            P + "committed_value_by_month_usd",
            "Committed value in USD (as committed_value_usd) by the UTC month the orders were "
            "placed in: business time, one series per month and calibre",
            labels=["month", "caliber_mm"],
        ),
        GaugeMetricFamily(
            P + "stockpile_target_quantity",
            "Latest stockpile target per country and calibre",
            labels=by_country,
        ),
        GaugeMetricFamily(
            P + "stockpile_holdings_quantity",
            "Delivered quantity of the country's national-stockpile orders of that calibre",
            labels=by_country,
        ),
        GaugeMetricFamily(
            P + "stockpile_gap_quantity",
            "Stockpile target minus holdings, floored at 0",
            labels=by_country,
        ),
        GaugeMetricFamily(
            P + "ordered_value_155mm_ytd_usd",
            "Value in USD of 155mm orders placed from 1 January of the year of the latest "
            "155mm order up to it (the ledger's business clock)",
        ),
        GaugeMetricFamily(
            P + "ordered_value_155mm_ytd_as_of_seconds",
            "Unix time of the latest 155mm order placement: the 'as of' of the year to date",
        ),
        GaugeMetricFamily(
            P + "checkpoint_sealed_timestamp_seconds",
            "Record time (Unix) the latest built time-travel checkpoint is sealed at; absent "
            "while none is built",
        ),
    ]
