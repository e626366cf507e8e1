"""Shared fixtures: the real local stack, unique names, database connections."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator

import psycopg
import pytest

from procledger_dev.stack import kafka as stack_kafka
from procledger_dev.stack import postgres as stack_postgres
from procledger_dev.stack import prometheus as stack_prometheus
from procledger_dev.stack.config import StackConfig


@pytest.fixture(scope="session")
def stack() -> StackConfig:
    """The running local stack; started here if `make test` was not the caller."""
    cfg = StackConfig.from_env()
    running = (
        stack_postgres.status_running(cfg)
        and all("running" in line for line in stack_kafka.status(cfg))
        and all("running" in line for line in stack_prometheus.status(cfg))
    )
    if not running:
        subprocess.run([sys.executable, "-m", "procledger_dev.cli", "stack", "up"], check=True)
    return cfg


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
