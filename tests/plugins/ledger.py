"""A fresh ledger per test: its own database and topics on the real stack."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest

from procledger.adapters.kafka.publisher import KafkaOrderPublisher, PublishReport
from procledger.adapters.kafka.topics import ensure_topics
from procledger.adapters.postgres.migrations import migrate
from procledger.domain.events import Event
from procledger.settings import DatabaseSettings, Env, KafkaSettings, Topics
from procledger_dev.stack.config import StackConfig


@dataclass
class LedgerEnv:
    """Everything a test needs to publish, consume and inspect one isolated ledger."""

    env: dict[str, str]
    kafka: KafkaSettings
    topics: Topics
    database: DatabaseSettings
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def publish(self, events: Iterable[Event]) -> PublishReport:
        publisher = KafkaOrderPublisher(self.kafka, self.topics, source_system="tests")
        try:
            return publisher.publish(events)
        finally:
            publisher.close()

    def consume(self, until_idle: float = 3.0, group: str | None = None) -> None:
        """Run `procledger consume` until everything published is applied."""
        args = ["consume", "--until-idle", str(until_idle)]
        if group:
            args += ["--group", group]
        result = subprocess.run(
            [sys.executable, "-m", "procledger", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        assert result.returncode == 0, result.stderr[-3000:]

    def start_consumer(self, group: str | None = None) -> subprocess.Popen[bytes]:
        args = [sys.executable, "-m", "procledger", "consume"]
        if group:
            args += ["--group", group]
        proc = subprocess.Popen(
            args, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.processes.append(proc)
        return proc

    def rows(self, query: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        with psycopg.connect(self.database.admin_url) as conn:
            return conn.execute(query, params).fetchall()

    def scalar(self, query: str, params: tuple[Any, ...] = ()) -> Any:
        return self.rows(query, params)[0][0]

    def wait_applied(self, offsets: int, timeout: float = 120) -> None:
        """Wait until journal plus rejections account for `offsets` records."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.scalar("SELECT coalesce(sum(next_offset), 0) FROM ledger.positions")
            if done >= offsets:
                return
            time.sleep(0.3)
        raise AssertionError(f"ledger did not reach {offsets} offsets in {timeout}s")

    def sibling(self, suffix: str) -> LedgerEnv:
        """Another ledger (fresh database, own group) reading the same topics: a clean run."""
        database = f"{self.database.admin_url.rsplit('/', 1)[1]}_{suffix}"
        env = {
            **self.env,
            "DATABASE_URL": self.env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{database}",
            "DATABASE_ADMIN_URL": self.env["DATABASE_ADMIN_URL"].rsplit("/", 1)[0] + f"/{database}",
            "CONSUMER_GROUP": f"{self.env['CONSUMER_GROUP']}.{suffix}",
        }
        other = LedgerEnv(
            env, self.kafka, self.topics, DatabaseSettings.from_env(Env(env), admin=True)
        )
        migrate(other.database)
        return other

    def stop_all(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def run_procledger(
    env: dict[str, str], *args: str, stdin: str | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The real command in a subprocess (exit code, stdout and stderr as a user sees them)."""
    return subprocess.run(
        [sys.executable, "-m", "procledger", *args],
        env=env,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def server_variables(stack: StackConfig, database: str) -> dict[str, str]:
    """The stack's Kafka, and `database` on its PostgreSQL under the three roles."""
    base = f"127.0.0.1:{stack.pg_port}/{database}"
    return {
        "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
        "DATABASE_URL": f"postgresql://procledger_app:procledger_app@{base}",
        "DATABASE_ADMIN_URL": f"postgresql://postgres:{stack.pg_superuser_password}@{base}",
        "AUDIT_DATABASE_URL": f"postgresql://procledger_auditor:procledger_auditor@{base}",
    }


def ledger_variables(stack: StackConfig, unique: str, database: str) -> dict[str, str]:
    """The settings of one isolated ledger on the stack: its database, topics and group."""
    return {
        **server_variables(stack, database),
        "TOPIC_ORDERS": f"t.{unique}.orders",
        "TOPIC_STOCKPILE_TARGETS": f"t.{unique}.targets",
        "TOPIC_DLQ": f"t.{unique}.dlq",
        "CONSUMER_GROUP": f"g.{unique}",
        "CONSUMER_METRICS_PORT": "0",
    }


def make_ledger(stack: StackConfig, unique: str, **overrides: str) -> LedgerEnv:
    """A fresh ledger on the stack: its own database, topics and consumer group."""
    env = {
        **os.environ,
        **ledger_variables(stack, unique, f"pl_{unique}"),
        "LOG_LEVEL": "INFO",
        **overrides,
    }
    settings = Env(env)
    ledger_env = LedgerEnv(
        env=env,
        kafka=KafkaSettings.from_env(settings),
        topics=Topics.from_env(settings),
        database=DatabaseSettings.from_env(settings, admin=True),
    )
    migrate(ledger_env.database, auditor_url=env["AUDIT_DATABASE_URL"])
    ensure_topics(ledger_env.kafka, ledger_env.topics)
    return ledger_env


@pytest.fixture
def ledger(stack: StackConfig, unique: str) -> Iterator[LedgerEnv]:
    ledger_env = make_ledger(stack, unique)
    yield ledger_env
    ledger_env.stop_all()


def snapshot(ledger: LedgerEnv) -> dict[str, Any]:
    """What must be identical between two runs over the same events, whatever happened."""
    return {
        "event_ids": {r[0] for r in ledger.rows("SELECT event_id FROM ledger.journal")},
        "orders": ledger.rows(
            "SELECT order_id, buyer, supplier, caliber_mm, purpose, currency, quantity, value,"
            " value_usd, delivered_quantity, paid, paid_usd, status, delivery_ids, payment_ids"
            " FROM ledger.orders ORDER BY order_id"
        ),
        "targets": ledger.rows("SELECT * FROM ledger.stockpile_targets ORDER BY 1, 2"),
        "totals": ledger.rows("SELECT * FROM ledger.order_totals ORDER BY 1, 2, 3, 4, 5, 6"),
        "postings": ledger.rows(
            "SELECT account, side, currency, sum(amount), sum(amount_usd), count(*)"
            " FROM audit.postings GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        ),
    }


def assert_offsets_accounted(
    ledger: LedgerEnv, conn: psycopg.Connection[tuple[Any, ...]] | None = None
) -> int:
    """Every offset from 0 to each partition's position is in exactly one place.

    One statement, so one snapshot: consumers may be committing while it reads. `conn`: an
    open connection to read on (a new one may be refused, e.g. on a full disk).
    """
    query = (
        "SELECT 'applied', topic, kafka_partition, kafka_offset FROM ledger.journal"
        " UNION ALL SELECT 'applied', topic, kafka_partition, kafka_offset FROM ledger.rejections"
        " UNION ALL SELECT 'position', topic, kafka_partition, next_offset FROM ledger.positions"
    )
    rows = ledger.rows(query) if conn is None else conn.execute(query).fetchall()
    by_partition: dict[tuple[str, int], list[int]] = {}
    positions: dict[tuple[str, int], int] = {}
    for kind, topic, partition, offset in rows:
        if kind == "position":
            positions[(topic, partition)] = offset
        else:
            by_partition.setdefault((topic, partition), []).append(offset)
    for tp in by_partition.keys() | positions.keys():
        expected = list(range(positions.get(tp, 0)))
        assert sorted(by_partition.get(tp, [])) == expected, f"gap or double in {tp}"
    return len(rows) - len(positions)
