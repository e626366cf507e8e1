"""`procledger consume`: command-line options (the wiring lives in entrypoints.consumer_service)."""

from __future__ import annotations

import argparse

from procledger.entrypoints.cli.support import Command

CONSUME = Command(
    "consume",
    "fold order events from Kafka into the PostgreSQL ledger, exactly once",
    "Reads TOPIC_ORDERS and TOPIC_STOCKPILE_TARGETS as a member of CONSUMER_GROUP and "
    "applies each polled batch in one transaction (journal, postings, projections, "
    "positions). Run several processes with the same group to share partitions. "
    "SIGTERM finishes the current batch and exits 0; if the batch cannot finish within "
    "CONSUMER_STOP_TIMEOUT_S (20; a database that does not answer), it exits 3 with "
    "the batch uncommitted (applied again later, exactly once). Metrics on "
    "CONSUMER_METRICS_PORT (0 disables them). Exits 1 when Kafka refuses the consumer "
    "or on an unexpected error (the log says why), 2 on bad configuration or a "
    "database without the ledger's tables (run `procledger db migrate` first).",
    "procledger.entrypoints.consumer_service:run",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = CONSUME.add_to(sub)
    parser.add_argument("--group", help="consumer group (env CONSUMER_GROUP)")
    parser.add_argument(
        "--metrics-port", type=int, help="Prometheus port (env CONSUMER_METRICS_PORT, 9410)"
    )
    parser.add_argument(
        "--until-idle",
        type=float,
        metavar="SECONDS",
        help="exit 0 once nothing arrived for SECONDS and no partition lags (demos, tests)",
    )
