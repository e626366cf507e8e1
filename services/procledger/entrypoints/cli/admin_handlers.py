"""Idempotent setup of the ledger database and the Kafka topics."""

from __future__ import annotations

import argparse

from kafka.errors import KafkaError

from procledger.adapters.kafka.topics import TopicSetupError, ensure_topics
from procledger.adapters.postgres.migrations import (
    MigrationsNotFound,
    MigrationUnavailable,
    migrate,
)
from procledger.entrypoints.cli.exits import EXIT_FAILED, EXIT_USAGE, guarded
from procledger.settings import (
    DEFAULT_ADMIN_DATABASE_URL,
    DEFAULT_DATABASE_URL,
    DatabaseSettings,
    Env,
    KafkaSettings,
    Topics,
)
from procledger.settings.audit import DEFAULT_AUDIT_DATABASE_URL


@guarded(
    "procledger db migrate",
    {ValueError: EXIT_USAGE, MigrationsNotFound: EXIT_FAILED, MigrationUnavailable: EXIT_FAILED},
)
def run_db(args: argparse.Namespace) -> int:
    urls = Env().secrets(
        {
            "DATABASE_URL": DEFAULT_DATABASE_URL,
            "DATABASE_ADMIN_URL": DEFAULT_ADMIN_DATABASE_URL,
            "AUDIT_DATABASE_URL": DEFAULT_AUDIT_DATABASE_URL,
        }
    )
    settings = DatabaseSettings(url=urls["DATABASE_URL"], admin_url=urls["DATABASE_ADMIN_URL"])
    report = migrate(settings, auditor_url=urls["AUDIT_DATABASE_URL"])
    created = " (created)" if report.created_database else ""
    applied = ", ".join(report.applied) or "none pending"
    print(f"database {report.database}{created}: migrations applied: {applied}")
    return 0


@guarded("procledger topics create", {TopicSetupError: EXIT_FAILED, KafkaError: EXIT_FAILED})
def run_topics(args: argparse.Namespace) -> int:
    env = Env()
    report = ensure_topics(KafkaSettings.from_env(env), Topics.from_env(env))
    for name, state in report.items():
        print(f"{name}: {state}")
    return 0
