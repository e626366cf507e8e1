"""`procledger-dev stack up|down|status`: command-line options (the work is in stack.control)."""

from __future__ import annotations

import argparse

from procledger.entrypoints.cli.support import lazy

COMPONENTS = ("postgres", "replica", "kafka", "exporters", "prometheus")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "stack",
        help="start, stop or inspect the local Kafka, PostgreSQL and Prometheus servers",
        description=(
            "Runs real servers on 127.0.0.1 without Docker. Ports and folders come from "
            "STACK_DIR (default var/stack), STACK_KAFKA_PORT (9092), STACK_KAFKA_BROKERS "
            "(1, or 3 for a replicated cluster), STACK_PG_PORT (55432) and "
            "STACK_PROMETHEUS_PORT (9090); a second stack with other values runs beside the "
            "first. Each broker runs the Prometheus JMX exporter agent on "
            "STACK_KAFKA_EXPORTER_PORT (default: Kafka port + 312, so 9404); `exporters` is "
            "postgres_exporter on STACK_PG_EXPORTER_PORT (default: Prometheus port + 97, so "
            "9187). `replica` is a PostgreSQL streaming replica (hot standby, from pg_basebackup "
            "of the primary) on STACK_PG_REPLICA_PORT (default: PostgreSQL port + 1, so 55433); "
            "it is opt-in: STACK_PG_REPLICA=1 (or --only replica) starts it, `down` always stops "
            "it. Logs go to STACK_DIR/logs."
        ),
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument(
        "--only",
        choices=COMPONENTS,
        action="append",
        help="act on this component only (repeatable); default: all (the replica only with "
        "STACK_PG_REPLICA=1 for `up`)",
    )
    parser.set_defaults(func=lazy("procledger_dev.stack.control:run"))
