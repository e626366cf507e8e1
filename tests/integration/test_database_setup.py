"""A database that was never set up stops every command at once, naming what is missing."""

from __future__ import annotations

import os
from pathlib import Path

import psycopg
import pytest

from procledger_dev.stack.config import StackConfig
from tests.plugins.ledger import LedgerEnv, run_procledger, server_variables


def _env(stack: StackConfig, database: str, **extra: str) -> dict[str, str]:
    return {
        **os.environ,
        **server_variables(stack, database),
        "CONSUMER_METRICS_PORT": "0",
        **extra,
    }


def test_migrate_without_migrations_fails_and_names_the_folder(
    stack: StackConfig,
    unique: str,
    tmp_path: Path,
    superuser: psycopg.Connection[tuple[object, ...]],
) -> None:
    database = f"pl_{unique}"
    env = _env(stack, database, PROCLEDGER_MIGRATIONS_DIR=str(tmp_path))
    result = run_procledger(env, "db", "migrate")
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"no migrations found in {tmp_path}" in result.stderr
    assert "PROCLEDGER_MIGRATIONS_DIR" in result.stderr
    assert "applied" not in result.stdout
    # Checked before the server is touched: no half-made database is left behind.
    found = superuser.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
    assert found.fetchone() is None


@pytest.fixture
def bare_database(
    stack: StackConfig,
    unique: str,
    superuser: psycopg.Connection[tuple[object, ...]],
    ledger: LedgerEnv,
) -> str:
    """A database that exists but was never migrated. The roles are the server's: `ledger`
    migrates a database of its own first, so they exist even on a fresh stack (without
    them the services could not log in, and would wait for the database instead)."""
    database = f"pl_{unique}_bare"
    superuser.execute(f'CREATE DATABASE "{database}"')
    return database


def test_consume_stops_at_start_on_a_database_without_the_ledger(
    stack: StackConfig, bare_database: str
) -> None:
    result = run_procledger(_env(stack, bare_database), "consume", "--until-idle", "1")
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"database '{bare_database}' (DATABASE_URL) lacks ledger.journal" in result.stderr
    assert "procledger db migrate" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_audit_stops_at_start_on_a_database_without_the_views(
    stack: StackConfig, bare_database: str
) -> None:
    env = _env(stack, bare_database, AUDITOR_TOKENS="t")
    result = run_procledger(env, "serve", "audit", "--port", "1")
    assert result.returncode == 2, result.stderr[-2000:]
    assert f"database '{bare_database}' (AUDIT_DATABASE_URL) lacks audit.journal" in result.stderr
    assert "procledger db migrate" in result.stderr
