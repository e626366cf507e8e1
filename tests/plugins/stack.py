"""Shared fixtures: the real local stack, unique names, database connections."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
import warnings
from collections.abc import Iterator
from contextlib import closing

import psycopg
import pytest
from kafka.admin import KafkaAdminClient
from kafka.errors import KafkaError
from psycopg import sql

from procledger_dev.stack import kafka as stack_kafka
from procledger_dev.stack import postgres as stack_postgres
from procledger_dev.stack import prometheus as stack_prometheus
from procledger_dev.stack.config import StackConfig


@pytest.fixture(scope="session")
def stack() -> Iterator[StackConfig]:
    """The running local stack; started here if `make test` was not the caller.

    The test databases and topics this session created are dropped when it ends: left
    behind, they piled up by the hundred on a dev stack, and PostgreSQL's autovacuum
    launcher and the metrics exporter visited each database, and every client asking for
    all topics' metadata each topic, during whatever ran there next (`make bench`).
    """
    cfg = StackConfig.from_env()
    running = (
        stack_postgres.status_running(cfg)
        and all("running" in line for line in stack_kafka.status(cfg))
        and all("running" in line for line in stack_prometheus.status(cfg))
    )
    if not running:
        subprocess.run([sys.executable, "-m", "procledger_dev.cli", "stack", "up"], check=True)
    with psycopg.connect(cfg.database_url, autocommit=True) as conn:
        before = _test_databases(conn)
    with closing(_admin(cfg)) as admin:
        topics_before = _test_topics(admin)
    yield cfg
    try:
        with closing(_admin(cfg)) as admin:
            names = sorted(_test_topics(admin) - topics_before)
            for start in range(0, len(names), 200):  # a bounded request, however long the run
                admin.delete_topics(names[start : start + 200])
    except KafkaError as err:
        warnings.warn(f"test topics left on the stack: {err}", stacklevel=1)
    try:
        with psycopg.connect(cfg.database_url, autocommit=True) as conn:
            for name in sorted(_test_databases(conn) - before):
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
    except psycopg.OperationalError as err:  # a clean-up only: the tests have their verdict
        warnings.warn(f"test databases left on the stack: {err}", stacklevel=1)


def _test_databases(conn: psycopg.Connection[tuple[object, ...]]) -> set[str]:
    """The databases named as the tests name theirs (`pl_` and a unique suffix)."""
    rows = conn.execute("SELECT datname FROM pg_database WHERE datname LIKE 'pl\\_%'")
    return {str(name) for (name,) in rows}


def _admin(cfg: StackConfig) -> KafkaAdminClient:
    return KafkaAdminClient(bootstrap_servers=cfg.bootstrap_servers, client_id="procledger-tests")


def _test_topics(admin: KafkaAdminClient) -> set[str]:
    """The topics named as the tests name theirs (`t.` or `it.`, then a unique part)."""
    return {t for t in admin.list_topics() if t.startswith(("t.", "it."))}


@pytest.fixture(scope="session")
def bootstrap(stack: StackConfig) -> str:
    return os.environ.get("KAFKA_BOOTSTRAP_SERVERS", stack.bootstrap_servers)


@pytest.fixture
def unique() -> str:
    """A suffix for topic, group and database names, so tests never need teardown."""
    return uuid.uuid4().hex[:10]


@pytest.fixture
def superuser(stack: StackConfig) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    with psycopg.connect(stack.database_url, autocommit=True) as conn:
        yield conn
