"""`procledger db migrate`, `topics create` and `ledger rebuild`: command-line options."""

from __future__ import annotations

import argparse

from procledger.entrypoints.cli.support import Command

DB = Command(
    "db",
    "database setup",
    "migrate: create the database named in DATABASE_ADMIN_URL, the application role "
    "of DATABASE_URL and the auditor role of AUDIT_DATABASE_URL where missing, then "
    "apply pending migrations from schemas/sql/migrations in order (yoyo-migrations).",
    "procledger.entrypoints.cli.admin_handlers:run_db",
)
TOPICS = Command(
    "topics",
    "Kafka topic setup",
    "create: create TOPIC_ORDERS, TOPIC_STOCKPILE_TARGETS and TOPIC_DLQ with "
    "TOPIC_PARTITIONS partitions and TOPIC_REPLICATION replicas where missing.",
    "procledger.entrypoints.cli.admin_handlers:run_topics",
)
LEDGER = Command(
    "ledger",
    "ledger maintenance: rebuild projections from the journal",
    "rebuild: re-fold every journal row (in commit order) into fresh projections and "
    "report each difference from the live ledger.orders and ledger.stockpile_targets. "
    "Exit 0 when they are identical, 1 when they differ. --replace then swaps the "
    "live projections for the rebuilt ones in one transaction (consumers wait); it "
    "refuses to when a journal payload makes no valid event (that is tampering).",
    "procledger.entrypoints.cli.rebuild_handlers:run",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    DB.add_to(sub).add_argument("action", choices=["migrate"])
    TOPICS.add_to(sub).add_argument("action", choices=["create"])
    parser = LEDGER.add_to(sub)
    parser.add_argument("action", choices=["rebuild"])
    parser.add_argument("--replace", action="store_true", help="replace live projections")
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--progress", action="store_true", help="progress bar even off a TTY")
