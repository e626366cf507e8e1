"""Grafana dashboards as code; `python -m procledger_dev.ops.dashboards --out DIR` writes them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

DATASOURCE = {"type": "prometheus", "uid": "prometheus"}  # provisioning/datasources/prometheus.yml
GRID_WIDTH = 24
RATE = "$__rate_interval"  # Grafana picks a window of at least four scrape intervals
HEADLINE_USD = 1e9  # the June 2023 headline: USD 1bn of 155mm shells ordered in a year

PanelType = Literal["timeseries", "stat", "bargauge", "table"]
Threshold = tuple[float | None, str]  # (lower bound, colour); None is the base step


@dataclass(frozen=True, slots=True)
class Target:
    """One PromQL query; `instant` for tables and bar gauges that show the latest value."""

    expr: str
    legend: str = ""
    instant: bool = False


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    type: PanelType
    targets: tuple[Target, ...]
    description: str = ""
    unit: str = "short"
    width: int = 12
    height: int = 8
    thresholds: tuple[Threshold, ...] = ((None, "green"),)
    decimals: int | None = None


@dataclass(frozen=True, slots=True)
class Dashboard:
    uid: str
    title: str
    description: str
    panels: tuple[Panel, ...]
    tags: tuple[str, ...] = field(default=("procledger",))


def quantiles(metric: str, qs: Sequence[float], by: str = "") -> tuple[Target, ...]:
    """histogram_quantile targets, one per quantile, over all instances of `metric`."""
    grouping = f"le, {by}" if by else "le"
    return tuple(
        Target(
            f"histogram_quantile({q}, sum by ({grouping}) (rate({metric}_bucket[{RATE}])))",
            f"p{round(q * 100)}" + (f" {{{{{by}}}}}" if by else ""),
        )
        for q in qs
    )


def _panel_json(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    steps = [{"color": colour, "value": bound} for bound, colour in panel.thresholds]
    defaults: dict[str, Any] = {
        "unit": panel.unit,
        "thresholds": {"mode": "absolute", "steps": steps},
        "color": {"mode": "thresholds" if panel.type == "stat" else "palette-classic"},
    }
    if panel.decimals is not None:
        defaults["decimals"] = panel.decimals
    targets = [
        {
            "refId": chr(ord("A") + i),
            "datasource": DATASOURCE,
            "expr": t.expr,
            "legendFormat": t.legend or "__auto",
            "instant": t.instant,
            "range": not t.instant,
            "format": "table" if panel.type == "table" else "time_series",
        }
        for i, t in enumerate(panel.targets)
    ]
    out: dict[str, Any] = {
        "id": panel_id,
        "type": panel.type,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": panel.width, "h": panel.height},
        "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": _options(panel),
    }
    if panel.type == "table":
        # One row per label set: merge the instant queries, drop the timestamp column.
        out["transformations"] = [
            {"id": "merge", "options": {}},
            {"id": "organize", "options": {"excludeByName": {"Time": True}}},
        ]
    return out


def _options(panel: Panel) -> dict[str, Any]:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    if panel.type == "timeseries":
        return {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if panel.type == "stat":
        return {"reduceOptions": reduce, "colorMode": "background", "graphMode": "area"}
    if panel.type == "bargauge":
        return {"reduceOptions": {**reduce, "values": True}, "orientation": "horizontal",
                "displayMode": "gradient", "showUnfilled": True}  # fmt: skip
    return {"showHeader": True, "cellHeight": "sm"}


def render(dashboard: Dashboard) -> dict[str, Any]:
    """The dashboard as Grafana's JSON model; panels flow left to right, then down."""
    panels: list[dict[str, Any]] = []
    x = y = row_height = 0
    for number, panel in enumerate(dashboard.panels, start=1):
        if x + panel.width > GRID_WIDTH:
            x, y, row_height = 0, y + row_height, 0
        panels.append(_panel_json(panel, number, x, y))
        x += panel.width
        row_height = max(row_height, panel.height)
    return {
        "uid": dashboard.uid,
        "title": dashboard.title,
        "description": dashboard.description,
        "tags": list(dashboard.tags),
        "timezone": "utc",
        "editable": False,  # the JSON is generated: edit procledger_dev.ops.dashboards instead
        "graphTooltip": 1,
        "refresh": "10s",
        "schemaVersion": 39,
        "time": {"from": "now-1h", "to": "now"},
        "templating": {"list": []},
        "annotations": {"list": []},
        "panels": panels,
    }


C = "procledger_consumer_"
L = "procledger_ledger_"
# Every consumer reports the same business gauges (each reads the shared ledger), so they are
# combined with max by their labels, never summed.
BUYER = "max by (buyer, caliber_mm)"
COUNTRY = "max by (country, caliber_mm)"


def ledger_pipeline() -> Dashboard:
    s = "s"
    return Dashboard(
        uid="procledger-pipeline",
        title="Ledger pipeline",
        description="Kafka to PostgreSQL: throughput, lag, latency, rejections, batches.",
        panels=(
            Panel(
                "Consumers up",
                "stat",
                (Target('sum(up{job="procledger-consumer"})'),),
                width=6,
                height=4,
                thresholds=((None, "red"), (1, "green")),
            ),
            Panel(
                "Assigned partitions",
                "stat",
                (Target(f"sum({C}assigned_partitions)"),),
                width=6,
                height=4,
            ),
            Panel(
                "Since last batch",
                "stat",
                (Target(f"time() - max({C}last_batch_time_seconds)"),),
                unit=s,
                width=6,
                height=4,
                description="Seconds since any consumer committed a batch",
            ),
            Panel(
                "Consumer up time",
                "stat",
                (Target(f"time() - min({C}start_time_seconds)"),),
                unit=s,
                width=6,
                height=4,
                description="Since the most recently started consumer began",
            ),
            Panel(
                "Events applied per second",
                "timeseries",
                (
                    Target(
                        f"sum by (event_type) (rate({C}events_applied_total[{RATE}]))",
                        "{{event_type}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Records consumed per second",
                "timeseries",
                (Target(f"sum by (topic) (rate({C}events_consumed_total[{RATE}]))", "{{topic}}"),),
                unit="ops",
            ),
            Panel(
                "Lag (messages)",
                "timeseries",
                (Target(f"sum by (topic) ({C}lag_messages)", "{{topic}}"),),
                description="Kafka end offset minus the ledger's next offset",
            ),
            Panel(
                "Lag (seconds)",
                "timeseries",
                (Target(f"max by (topic) ({C}lag_seconds)", "{{topic}}"),),
                unit=s,
                description="Age of the oldest record not yet in the ledger",
            ),
            Panel(
                "End-to-end latency",
                "timeseries",
                quantiles(f"{C}end_to_end_latency_seconds", (0.5, 0.9, 0.99)),
                unit=s,
                description="Kafka record timestamp to ledger commit",
            ),
            Panel(
                "Rejections per second by reason",
                "timeseries",
                (
                    Target(
                        f"sum by (reason) (rate({C}events_rejected_total[{RATE}]))", "{{reason}}"
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Rejected in range by reason and type",
                "bargauge",
                (
                    Target(
                        "sort_desc(sum by (reason, event_type) "
                        f"(increase({C}events_rejected_total[$__range])))",
                        "{{reason}} {{event_type}}",
                        instant=True,
                    ),
                ),
                decimals=0,
            ),
            Panel(
                "Dead-letter topic",
                "timeseries",
                (
                    Target(f"sum(rate({C}dlq_forwarded_total[{RATE}]))", "forwarded"),
                    Target(
                        f"sum(rate({C}dlq_forward_failures_total[{RATE}]))",
                        "forward failures (batches)",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Batch size",
                "timeseries",
                quantiles(f"{C}batch_size_records", (0.5, 0.99)),
                width=8,
            ),
            Panel(
                "Batch duration",
                "timeseries",
                quantiles(f"{C}batch_duration_seconds", (0.5, 0.99)),
                unit=s,
                width=8,
                description="Poll to Kafka offset commit",
            ),
            Panel(
                "Database commit",
                "timeseries",
                quantiles(f"{C}db_commit_duration_seconds", (0.5, 0.99)),
                unit=s,
                width=8,
                description="The batch's PostgreSQL transaction",
            ),
            Panel(
                "Retries by kind",
                "timeseries",
                (Target(f"sum by (kind) (increase({C}retries_total[{RATE}]))", "{{kind}}"),),
                width=8,
            ),
            Panel(
                "Rebalances and fenced batches",
                "timeseries",
                (
                    Target(f"sum(increase({C}rebalances_total[{RATE}]))", "rebalances"),
                    Target(f"sum(increase({C}fenced_batches_total[{RATE}]))", "fenced batches"),
                ),
                width=8,
                description="A fenced batch was rolled back: another member owned the partition",
            ),
            Panel(
                "Ledger position by partition",
                "table",
                (
                    Target(f"max by (topic, partition) ({C}committed_offset)", instant=True),
                    Target(f"max by (topic, partition) ({C}lag_messages)", instant=True),
                ),
                width=8,
                description="Next offset to apply (A) and lag (B)",
            ),
        ),
    )


def procurement() -> Dashboard:
    usd = "currencyUSD"
    return Dashboard(
        uid="procledger-procurement",
        title="Procurement",
        description="Who ordered what, how much arrived, and stockpile targets.",
        panels=(
            Panel(
                "155mm ordered, year to date",
                "stat",
                (Target(f"max({L}ordered_value_155mm_ytd_usd)"),),
                unit=usd,
                width=8,
                thresholds=((None, "orange"), (HEADLINE_USD, "green")),
                description="Green from the USD 1bn headline on (business year of the "
                "latest 155mm order)",
            ),
            Panel(
                "Committed value, all calibres",
                "stat",
                (Target(f"sum({BUYER} ({L}committed_value_usd))"),),
                unit=usd,
                width=8,
            ),
            Panel(
                "155mm delivered share",
                "stat",
                (
                    Target(
                        f'sum({BUYER} ({L}delivered_quantity{{caliber_mm="155"}})) / '
                        f'sum({BUYER} ({L}committed_quantity{{caliber_mm="155"}}))'
                    ),
                ),
                unit="percentunit",
                width=8,
                decimals=1,
            ),
            Panel(
                "Value ordered by buyer and calibre",
                "bargauge",
                (
                    Target(
                        f"sort_desc({BUYER} ({L}committed_value_usd))",
                        "{{buyer}} {{caliber_mm}}mm",
                        instant=True,
                    ),
                ),
                unit=usd,
                height=12,
            ),
            Panel(
                "Ordered versus delivered by buyer and calibre",
                "table",
                (
                    Target(f"{BUYER} ({L}committed_quantity)", instant=True),
                    Target(f"{BUYER} ({L}delivered_quantity)", instant=True),
                ),
                height=12,
                description="Quantity ordered (A) and delivered (B)",
            ),
            Panel(
                "Committed value over time by calibre",
                "timeseries",
                (
                    Target(
                        f"sum by (caliber_mm) ({BUYER} ({L}committed_value_usd))",
                        "{{caliber_mm}}mm",
                    ),
                ),
                unit=usd,
            ),
            Panel(
                "Stockpile gap by country and calibre",
                "bargauge",
                (
                    Target(
                        f"sort_desc({COUNTRY} ({L}stockpile_gap_quantity))",
                        "{{country}} {{caliber_mm}}mm",
                        instant=True,
                    ),
                ),
                description="Target minus holdings (delivered national-stockpile orders)",
            ),
            Panel(
                "Stockpile targets versus holdings",
                "table",
                (
                    Target(f"{COUNTRY} ({L}stockpile_target_quantity)", instant=True),
                    Target(f"{COUNTRY} ({L}stockpile_holdings_quantity)", instant=True),
                    Target(f"{COUNTRY} ({L}stockpile_gap_quantity)", instant=True),
                ),
                width=24,
                height=10,
                description="Target (A), holdings (B) and gap (C)",
            ),
        ),
    )


DASHBOARDS = {"ledger-pipeline.json": ledger_pipeline, "procurement.json": procurement}


def dump(dashboard: Dashboard) -> str:
    """The file content: stable key order and a final newline, so diffs stay readable."""
    return json.dumps(render(dashboard), indent=2, sort_keys=True) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m procledger_dev.ops.dashboards",
        description="Write the Grafana dashboards (JSON) that deploy/grafana provisions.",
    )
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON files")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        (args.out / name).write_text(dump(build()))
        print(f"wrote {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
