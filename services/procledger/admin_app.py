"""Idempotent setup of the ledger database and the Kafka topics."""

from __future__ import annotations

import argparse
import os
import sys

import psycopg
from kafka.errors import KafkaError

from procledger.adapters.kafka_topics import TopicSetupError, ensure_topics
from procledger.adapters.postgres_migrations import MigrationsNotFound, migrate
from procledger.settings import DatabaseSettings, Env, KafkaSettings, SettingsError, Topics


def run_db(args: argparse.Namespace) -> int:
    try:
        settings = DatabaseSettings.from_env(Env())
        report = migrate(settings, auditor_url=os.environ.get("AUDIT_DATABASE_URL"))
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
