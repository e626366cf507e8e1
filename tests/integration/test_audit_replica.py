"""Audit reads off a real streaming replica: the primary's answers once caught up, an honest
verification of what the replica holds, and writes through the replica's URL refused."""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from procledger.entrypoints.http.audit import create_app
from procledger.scenario.story import story_events
from procledger.settings import Env
from procledger.settings.audit import AuditSettings
from procledger_dev.stack.config import StackConfig
from procledger_dev.stack.postgres import pg_home
from procledger_dev.stack.replica import wait_replayed
from tests.plugins.ledger import LedgerEnv

from .audit_support import AUDITOR_TOKEN, audit, new_ledger

# A private primary and its replica (the shared stack's PostgreSQL is never replicated here).
PG_PORT = int(os.environ.get("REPLICA_TEST_PG_PORT", "25832"))
REPLICA_PORT = int(os.environ.get("REPLICA_TEST_REPLICA_PORT", str(PG_PORT + 1)))
SPLIT = 300


def _stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "procledger_dev.cli", "stack", *args],
        env={**os.environ, **env}, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.fixture(scope="module")
def replicated(
    stack: StackConfig, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StackConfig]:
    """`stack up` of a private PostgreSQL and its replica; Kafka is the shared stack's."""
    env = {
        "STACK_DIR": str(tmp_path_factory.mktemp("replica-stack")),
        "STACK_PG_PORT": str(PG_PORT),
        "STACK_PG_REPLICA_PORT": str(REPLICA_PORT),
        "STACK_PG_REPLICA": "1",
    }
    cfg = StackConfig.from_env({**os.environ, **env})
    try:
        up = _stack(env, "up", "--only", "postgres", "--only", "replica")
        assert up.returncode == 0, up.stdout + up.stderr
        assert f"pg-replica 127.0.0.1:{REPLICA_PORT} (hot standby of :{PG_PORT}" in up.stdout
        status = _stack(env, "status", "--only", "postgres", "--only", "replica")
        assert status.returncode == 0 and "replay lag" in status.stdout, status.stdout
        yield dataclasses.replace(cfg, kafka_port=stack.kafka_port)
    finally:
        down = _stack(env, "down", "--only", "postgres", "--only", "replica")
        for name in ("postgres", "postgres-replica"):
            home = pg_home(cfg, name)
            if not home.is_relative_to(cfg.root):  # the server user's fallback folder
                shutil.rmtree(home.parent, ignore_errors=True)
    assert down.returncode == 0, down.stderr
    assert "pg-replica stopped" in down.stdout


def _on_replica(ledger: LedgerEnv, cfg: StackConfig, role: str) -> str:
    """The ledger's database on the replica, as `role` (whose password is its name)."""
    database = ledger.database.url.rsplit("/", 1)[1]
    return f"postgresql://{role}:{role}@127.0.0.1:{cfg.pg_replica_port}/{database}"


@pytest.fixture(scope="module")
def replicated_ledger(replicated: StackConfig) -> Iterator[LedgerEnv]:
    ledger = new_ledger(replicated)
    ledger.publish(story_events()[:SPLIT])
    ledger.consume(until_idle=1.0)
    yield ledger
    ledger.stop_all()


def test_audit_through_the_replica_answers_as_the_primary_once_caught_up(
    replicated: StackConfig, replicated_ledger: LedgerEnv
) -> None:
    wait_replayed(replicated)
    on_replica = dataclasses.replace(
        replicated_ledger,
        env={
            **replicated_ledger.env,
            "AUDIT_READ_DATABASE_URL": _on_replica(
                replicated_ledger, replicated, "procledger_auditor"
            ),
        },
    )
    args = ("totals", "--by", "buyer,caliber_mm,month", "--format", "json")
    primary_totals, replica_totals = audit(replicated_ledger, *args), audit(on_replica, *args)
    assert (primary_totals.code, replica_totals.code) == (0, 0), replica_totals.err
    assert replica_totals.json() == primary_totals.json()
    assert len(primary_totals.json()) > 3
    assert "reading a standby replayed to WAL" in replica_totals.err
    assert "standby" not in primary_totals.err

    primary_verify = audit(replicated_ledger, "verify", "--format", "json")
    replica_verify = audit(on_replica, "verify", "--format", "json")
    assert (primary_verify.code, replica_verify.code) == (0, 0), replica_verify.out
    on_primary, on_standby = primary_verify.json(), replica_verify.json()
    assert on_standby["ok"] and on_standby["discrepancies"] == []
    assert on_standby["checked"] == on_primary["checked"]
    assert on_standby["checked"]["offsets"] == SPLIT
    assert on_standby["verified_through"] == on_primary["verified_through"]
    assert on_primary["database"]["server"] == "primary"
    assert on_standby["database"]["server"] == "standby"
    assert on_standby["database"]["last_replayed_commit_at"] is not None


def test_verify_on_a_paused_replica_verifies_what_it_holds_and_says_how_far(
    replicated: StackConfig, replicated_ledger: LedgerEnv
) -> None:
    """Replay paused while the primary takes the rest of the story: the replica's
    verification passes on its own consistent snapshot and names the older position."""
    on_replica = dataclasses.replace(
        replicated_ledger,
        env={
            **replicated_ledger.env,
            "AUDIT_READ_DATABASE_URL": _on_replica(
                replicated_ledger, replicated, "procledger_auditor"
            ),
        },
    )
    wait_replayed(replicated)
    with psycopg.connect(replicated.replica_url, autocommit=True) as replica:
        replica.execute("SELECT pg_wal_replay_pause()")
        try:
            rest = story_events()[SPLIT:]
            replicated_ledger.publish(rest)
            replicated_ledger.consume(until_idle=1.0)
            stale = audit(on_replica, "verify", "--format", "json")
            fresh = audit(replicated_ledger, "verify", "--format", "json")
        finally:
            replica.execute("SELECT pg_wal_replay_resume()")
    assert (stale.code, fresh.code) == (0, 0), stale.out + stale.err
    behind, ahead = stale.json(), fresh.json()
    assert behind["ok"] and ahead["ok"]
    assert behind["checked"]["offsets"] == SPLIT
    assert ahead["checked"]["offsets"] == SPLIT + len(rest)
    assert sum(behind["verified_through"].values()) == SPLIT
    assert behind["database"]["replay_lag_s"] > 0
    text = audit(on_replica, "verify", "--format", "table")
    assert "as of the standby replayed to WAL" in text.out
    wait_replayed(replicated)
    caught_up = audit(on_replica, "verify", "--format", "json").json()
    assert caught_up["verified_through"] == ahead["verified_through"]


def test_writes_through_the_replica_url_are_refused_with_a_clear_error(
    replicated: StackConfig, replicated_ledger: LedgerEnv, tmp_path: Path
) -> None:
    wait_replayed(replicated)
    app_on_replica = _on_replica(replicated_ledger, replicated, "procledger_app")
    env = {**replicated_ledger.env, "DATABASE_URL": app_on_replica}
    consume = subprocess.run(
        [sys.executable, "-m", "procledger", "consume", "--until-idle", "1"],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert consume.returncode == 2, consume.stderr
    assert "DATABASE_URL points at a read-only standby" in consume.stderr
    assert "must connect to the primary" in consume.stderr

    admin_on_replica = replicated_ledger.env["DATABASE_ADMIN_URL"].replace(
        f":{replicated.pg_port}/", f":{replicated.pg_replica_port}/"
    )
    migrate = subprocess.run(
        [sys.executable, "-m", "procledger", "db", "migrate"],
        env={**replicated_ledger.env, "DATABASE_ADMIN_URL": admin_on_replica},
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
    )  # fmt: skip
    assert migrate.returncode == 2, migrate.stderr
    assert "DATABASE_ADMIN_URL points at a read-only standby" in migrate.stderr

    # And the server itself, whoever asks: the replica takes no write at all.
    with (
        psycopg.connect(app_on_replica) as conn,
        pytest.raises(psycopg.errors.ReadOnlySqlTransaction, match="read-only"),
    ):
        conn.execute(
            "INSERT INTO ledger.positions (topic, kafka_partition, next_offset, chain_head) "
            "VALUES ('x', 0, 0, '\\x00')"
        )


def test_the_audit_service_reads_the_replica_and_exports_its_lag(
    replicated: StackConfig, replicated_ledger: LedgerEnv
) -> None:
    wait_replayed(replicated)
    env = {
        **replicated_ledger.env,
        "AUDIT_READ_DATABASE_URL": _on_replica(replicated_ledger, replicated, "procledger_auditor"),
    }
    settings = AuditSettings.from_env(Env(env))
    assert settings.read_variable == "AUDIT_READ_DATABASE_URL"
    headers = {"Authorization": f"Bearer {AUDITOR_TOKEN}"}
    with TestClient(create_app(settings, CollectorRegistry())) as client:
        verified = client.post("/v1/verify", headers=headers)
        assert verified.status_code == 200, verified.text
        assert verified.json()["ok"] and verified.json()["database"]["server"] == "standby"
        deadline = time.monotonic() + 30
        while True:  # the background probe's first answer
            metrics = client.get("/metrics").text
            if "procledger_audit_database_standby 1.0" in metrics:
                break
            assert time.monotonic() < deadline, metrics[-2000:]
            time.sleep(0.2)
        assert "procledger_audit_database_replay_lag_seconds " in metrics
        assert "procledger_audit_database_up 1.0" in metrics


def test_a_replica_whose_slot_is_gone_is_made_again_and_the_wal_kept_is_bounded(
    replicated: StackConfig,
) -> None:
    """A stopped replica's slot kept every WAL file of the primary (63 GB over a long
    benchmark, then a full disk): the slot is bounded, and one given up is rebuilt."""
    env = {
        "STACK_DIR": str(replicated.root),
        "STACK_PG_PORT": str(replicated.pg_port),
        "STACK_PG_REPLICA_PORT": str(replicated.pg_replica_port),
        "STACK_PG_REPLICA": "1",
    }
    with psycopg.connect(replicated.database_url, autocommit=True) as conn:
        assert conn.execute("SHOW max_slot_wal_keep_size").fetchone() == ("2GB",)
    down = _stack(env, "down", "--only", "replica")
    assert down.returncode == 0, down.stderr
    with psycopg.connect(replicated.database_url, autocommit=True) as conn:
        conn.execute("SELECT pg_drop_replication_slot('procledger_stack_replica')")
    up = _stack(env, "up", "--only", "replica")
    assert up.returncode == 0, up.stdout + up.stderr
    assert "made again: its slot was gone or given up" in up.stdout, up.stdout
    wait_replayed(replicated)
    with psycopg.connect(replicated.database_url, autocommit=True) as conn:
        slot = conn.execute(
            "SELECT active FROM pg_replication_slots WHERE slot_name = 'procledger_stack_replica'"
        ).fetchone()
    assert slot == (True,)
