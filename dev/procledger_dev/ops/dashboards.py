"""Grafana dashboards as code; `python -m procledger_dev.ops.dashboards --out DIR` writes them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from procledger_dev.ops.grafana import (
    RATE,
    Dashboard,
    Panel,
    Target,
    Variable,
    quantiles,
    render,
    row,
    stat,
)
from procledger_dev.ops.procurement_dashboard import procurement
from procledger_dev.ops.servers_dashboard import servers
from procledger_dev.ops.service_panels import service_panels

C = "procledger_consumer_"
# Matchers of the template variables (All is ".*").
INST = 'instance=~"$instance"'
INST_TOPIC = f'{INST}, topic=~"$topic"'


def ledger_pipeline() -> Dashboard:
    s = "s"
    return Dashboard(
        uid="procledger-pipeline",
        title="Ledger pipeline",
        description="Kafka to PostgreSQL: throughput, lag, latency, rejections, batches; and "
        "the intake, audit and publish services around it.",
        variables=(
            Variable("instance", "Instance", 'up{job=~"procledger-.*"}', "instance"),
            Variable("topic", "Topic", f"{C}events_consumed_total", "topic"),
        ),
        panels=(
            row("Consumers"),
            Panel(
                "Consumers up",
                "stat",
                (Target(f'sum(up{{job="procledger-consumer", {INST}}})'),),
                width=6,
                height=4,
                thresholds=((None, "red"), (1, "green")),
            ),
            Panel(
                "Assigned partitions",
                "stat",
                (Target(f"sum({C}assigned_partitions{{{INST}}})"),),
                width=6,
                height=4,
            ),
            stat(
                "Since last batch",
                f"time() - max({C}last_batch_time_seconds{{{INST}}})",
                "Seconds since any consumer committed a batch",
                unit=s,
            ),
            stat(
                "Consumer up time",
                f"time() - min({C}start_time_seconds{{{INST}}})",
                "Since the most recently started consumer began",
                unit=s,
            ),
            Panel(
                "Events applied per second",
                "timeseries",
                (
                    Target(
                        f"sum by (event_type) (rate({C}events_applied_total{{{INST}}}[{RATE}]))",
                        "{{event_type}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Records consumed per second",
                "timeseries",
                (
                    Target(
                        f"sum by (topic) (rate({C}events_consumed_total{{{INST_TOPIC}}}[{RATE}]))",
                        "{{topic}}",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Lag (messages)",
                "timeseries",
                (Target(f"sum by (topic) ({C}lag_messages{{{INST_TOPIC}}})", "{{topic}}"),),
                description="Kafka end offset minus the ledger's next offset",
            ),
            Panel(
                "Lag (seconds)",
                "timeseries",
                (Target(f"max by (topic) ({C}lag_seconds{{{INST_TOPIC}}})", "{{topic}}"),),
                unit=s,
                description="Age of the oldest record not yet in the ledger",
            ),
            Panel(
                "End-to-end latency",
                "timeseries",
                quantiles(f"{C}end_to_end_latency_seconds", (0.5, 0.9, 0.99), where=INST),
                unit=s,
                description="Kafka record timestamp to ledger commit",
            ),
            Panel(
                "Rejections per second by reason",
                "timeseries",
                (
                    Target(
                        f"sum by (reason) (rate({C}events_rejected_total{{{INST}}}[{RATE}]))",
                        "{{reason}}",
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
                        f"(increase({C}events_rejected_total{{{INST}}}[$__range])))",
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
                    Target(f"sum(rate({C}dlq_forwarded_total{{{INST}}}[{RATE}]))", "forwarded"),
                    Target(
                        f"sum(rate({C}dlq_forward_failures_total{{{INST}}}[{RATE}]))",
                        "forward failures (batches)",
                    ),
                ),
                unit="ops",
            ),
            Panel(
                "Dead-letter copies pending",
                "timeseries",
                (Target(f"sum by (instance) ({C}dlq_pending{{{INST}}})", "{{instance}}"),),
                decimals=0,
                description=(
                    "Rejections committed whose copy Kafka has not confirmed on the dead-letter "
                    "topic. Above 0 for 10 minutes fires DeadLetterForwardingStuck."
                ),
            ),
            Panel(
                "Batch size",
                "timeseries",
                quantiles(f"{C}batch_size_records", (0.5, 0.99), where=INST),
                width=8,
            ),
            Panel(
                "Batch duration",
                "timeseries",
                quantiles(f"{C}batch_duration_seconds", (0.5, 0.99), where=INST),
                unit=s,
                width=8,
                description="Poll to Kafka offset commit",
            ),
            Panel(
                "Database commit",
                "timeseries",
                quantiles(f"{C}db_commit_duration_seconds", (0.5, 0.99), where=INST),
                unit=s,
                width=8,
                description="The batch's PostgreSQL transaction",
            ),
            Panel(
                "Retries by kind",
                "timeseries",
                (
                    Target(
                        f"sum by (kind) (increase({C}retries_total{{{INST}}}[{RATE}]))", "{{kind}}"
                    ),
                ),
                width=8,
            ),
            Panel(
                "Rebalances and fenced batches",
                "timeseries",
                (
                    Target(f"sum(increase({C}rebalances_total{{{INST}}}[{RATE}]))", "rebalances"),
                    Target(
                        f"sum(increase({C}fenced_batches_total{{{INST}}}[{RATE}]))",
                        "fenced batches",
                    ),
                ),
                width=8,
                description="A fenced batch was rolled back: another member owned the partition",
            ),
            Panel(
                "Ledger position by partition",
                "table",
                (
                    Target(
                        f"max by (topic, partition) ({C}committed_offset{{{INST_TOPIC}}})",
                        instant=True,
                    ),
                    Target(
                        f"max by (topic, partition) ({C}lag_messages{{{INST_TOPIC}}})", instant=True
                    ),
                ),
                width=8,
                description="Next offset to apply (A) and lag (B)",
            ),
            *service_panels(INST),
        ),
    )


DASHBOARDS = {
    "ledger-pipeline.json": ledger_pipeline,
    "procurement.json": procurement,
    "servers.json": servers,
}


def dump(dashboard: Dashboard) -> str:
    """The file content: stable key order and a final newline, so diffs stay readable."""
    others = [build() for build in DASHBOARDS.values()]  # each links to the others
    return json.dumps(render(dashboard, others), indent=2, sort_keys=True) + "\n"


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
