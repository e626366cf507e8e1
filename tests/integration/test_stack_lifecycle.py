"""A second stack beside the first: up twice is harmless, down leaves no process."""

from __future__ import annotations

import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import psycopg
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from procledger_dev.stack.config import StackConfig


def _stack(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "procledger_dev.cli", "stack", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=False,
    )


def _pids(root: Path) -> list[int]:
    pids = []
    for pid_file in root.rglob("*.pid"):
        pid = int(pid_file.read_text().split()[0])
        try:
            os.kill(pid, 0)
            pids.append(pid)
        except ProcessLookupError:
            pass
    postmaster = list(root.rglob("postmaster.pid"))
    return pids + [int(p.read_text().split()[0]) for p in postmaster]


def test_second_stack_runs_beside_the_first(stack: StackConfig, tmp_path: Path) -> None:
    env = {
        "STACK_DIR": str(tmp_path / "stack2"),
        "STACK_KAFKA_PORT": "19192",
        # Below 32768: outside the ephemeral range, so no client's source port can hold it.
        "STACK_PG_PORT": "25432",
        "STACK_PROMETHEUS_PORT": "19190",
        "STACK_CACHE_DIR": str(stack.cache_dir),
    }
    before = _stack({}, "status")
    assert before.returncode == 0, before.stdout  # the first stack runs whole
    try:
        first = _stack(env, "up")
        assert first.returncode == 0, first.stderr
        assert "127.0.0.1:19192" in first.stdout and "127.0.0.1:25432" in first.stdout
        again = _stack(env, "up")
        assert again.returncode == 0, again.stderr
        assert _stack(env, "status").returncode == 0

        with psycopg.connect("postgresql://postgres:postgres@127.0.0.1:25432/postgres") as conn:
            assert conn.execute("SELECT 1").fetchone() == (1,)
        producer = KafkaProducer(bootstrap_servers="127.0.0.1:19192", acks="all")
        admin = KafkaAdminClient(bootstrap_servers="127.0.0.1:19192")
        admin.create_topics([NewTopic("second.stack", 1, 1)])
        admin.close()
        producer.send("second.stack", b"x").get(timeout=30)
        producer.close()
        # Its own exporters: the broker's JMX agent (19192 + 312) and postgres_exporter
        # (19190 + 97).
        for port, metric in ((19504, "kafka_server_replicamanager_underreplicatedpartitions"),
                             (19287, "pg_up 1")):  # fmt: skip
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as resp:
                assert metric in resp.read().decode()
        # The first stack is untouched: the same processes in the same states.
        after = _stack({}, "status")
        assert (after.returncode, after.stdout) == (before.returncode, before.stdout)
    finally:
        down = _stack(env, "down")
    assert down.returncode == 0, down.stderr
    assert _stack(env, "status").returncode == 3
    assert _pids(tmp_path) == []


def test_three_broker_cluster_replicates_with_min_isr_two(
    stack: StackConfig, tmp_path: Path
) -> None:
    env = {
        "STACK_DIR": str(tmp_path / "cluster"),
        "STACK_KAFKA_PORT": "19292",
        "STACK_KAFKA_BROKERS": "3",
        "STACK_CACHE_DIR": str(stack.cache_dir),
    }
    bootstrap = "127.0.0.1:19292,127.0.0.1:19294,127.0.0.1:19296"
    try:
        up = _stack(env, "up", "--only", "kafka")
        assert up.returncode == 0, up.stderr
        admin = KafkaAdminClient(bootstrap_servers=bootstrap)
        admin.create_topics([NewTopic("replicated", 3, 3)])
        described = admin.describe_topics(["replicated"])
        admin.close()
        assert all(len(p["replica_nodes"]) == 3 for p in described[0]["partitions"])
        producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
        producer.send("replicated", b"x").get(timeout=30)
        producer.close()
    finally:
        down = _stack(env, "down", "--only", "kafka")
    assert down.returncode == 0, down.stderr
    assert _pids(tmp_path) == []
