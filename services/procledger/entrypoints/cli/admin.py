"""`procledger db migrate`, `topics create`, `ledger rebuild|checkpoint`: command-line options."""

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
    "ledger maintenance: rebuild projections, write time-travel checkpoints",
    "rebuild: re-fold every journal row (in commit order) into fresh projections and "
    "report each difference from the live ledger.orders and ledger.stockpile_targets. "
    "Exit 0 when they are identical, 1 when they differ. --replace then swaps the "
    "live projections for the rebuilt ones in one transaction (consumers wait); it "
    "refuses to when a journal payload makes no valid event (that is tampering); it drops "
    "the checkpoints, which the next `ledger checkpoint` writes again. "
    "checkpoint: seal a record time (--until, by default --lag seconds ago; no batch may "
    "record a journal row at or before it afterwards: one that tries is retried with a new "
    "record time), wait for the transactions running at the seal, then write each order "
    "changed since the last checkpoint as it stood then. `audit ... --known-at T` then "
    "re-folds only the orders changed between T and the nearest checkpoint. Run it "
    "periodically (cron, a systemd timer); exit 0 when built, 1 when the database failed, "
    "another build runs or the wait ran out (the seal stays; run again), 2 for bad options.",
    "procledger.entrypoints.cli.ledger_handlers:run",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    DB.add_to(sub).add_argument("action", choices=["migrate"])
    TOPICS.add_to(sub).add_argument("action", choices=["create"])
    parser = LEDGER.add_to(sub)
    parser.add_argument("action", choices=["rebuild", "checkpoint"])
    parser.add_argument("--replace", action="store_true", help="rebuild: replace live projections")
    parser.add_argument(
        "--until", metavar="T", help="checkpoint: the record time to seal (ISO-8601 with zone)"
    )
    parser.add_argument(
        "--lag",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="checkpoint: without --until, seal this long before now (default 60), so that "
        "batches in flight are not refused",
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=60.0,
        metavar="SECONDS",
        help="checkpoint: how long to wait for transactions running at the seal (default 60)",
    )
    parser.add_argument("--format", choices=["table", "json"], default="table")
    parser.add_argument("--progress", action="store_true", help="progress bar even off a TTY")
