"""Idempotent setup of the ledger database and the Kafka topics."""

from __future__ import annotations

import argparse
import sys

import psycopg
from kafka.errors import KafkaError

from procledger.adapters.kafka.topics import TopicSetupError, ensure_topics
from procledger.adapters.postgres.migrations import MigrationsNotFound, migrate
from procledger.settings import (
    DEFAULT_ADMIN_DATABASE_URL,
    DEFAULT_DATABASE_URL,
    DatabaseSettings,
    Env,
    KafkaSettings,
    SettingsError,
    Topics,
)
from procledger.settings.audit import DEFAULT_AUDIT_DATABASE_URL


def run_db(args: argparse.Namespace) -> int:
    try:
        urls = Env().secrets({
            "DATABASE_URL": DEFAULT_DATABASE_URL,
            "DATABASE_ADMIN_URL": DEFAULT_ADMIN_DATABASE_URL,
            "AUDIT_DATABASE_URL": DEFAULT_AUDIT_DATABASE_URL,
        })  # fmt: skip
        settings = DatabaseSettings(url=urls["DATABASE_URL"], admin_url=urls["DATABASE_ADMIN_URL"])
        report = migrate(settings, auditor_url=urls["AUDIT_DATABASE_URL"])
    except (SettingsError, ValueError) as err:
        print(f"procledger db migrate: {err}", file=sys.stderr)
        return 2
    except psycopg.OperationalError as err:
        print(f"procledger db migrate: cannot reach PostgreSQL: {err}", file=sys.stderr)
        return 1
    except MigrationsNotFound as err:
        print(f"procledger db migrate: {err}", file=sys.stderr)
        return 1
    created = " (created)" if report.created_database else ""
    applied = ", ".join(report.applied) or "none pending"
    print(f"database {report.database}{created}: migrations applied: {applied}")
    return 0


def run_topics(args: argparse.Namespace) -> int:
    try:
        env = Env()
        report = ensure_topics(KafkaSettings.from_env(env), Topics.from_env(env))
    except SettingsError as err:
        print(f"procledger topics create: {err}", file=sys.stderr)
        return 2
    except (TopicSetupError, KafkaError) as err:
        print(f"procledger topics create: {err}", file=sys.stderr)
        return 1
    for name, state in report.items():
        print(f"{name}: {state}")
    return 0
