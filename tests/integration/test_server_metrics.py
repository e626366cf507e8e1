"""The "Servers" dashboard and the server alerts against real exporters and a real Prometheus.

A private stack (its own PostgreSQL, a broker with the JMX exporter agent, postgres_exporter
and the stack's Prometheus, whose generated config scrapes them at its ports) takes some
traffic; then every expression of deploy/grafana/dashboards/servers.json, of its variables and
of deploy/prometheus/rules/servers.yml must return a series, the alerts as written must stay
quiet, and a killed broker and a stopped database must make their alerts' expressions fire.
Ports: SERVER_METRICS_KAFKA_PORT (18792; Prometheus 2 below, the broker's agent 312 above,
postgres_exporter 95 above) and SERVER_METRICS_PG_PORT (25732).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
import yaml
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from procledger_dev.chaos.stacks import ChaosStack
from procledger_dev.ops.grafana import as_promql
from procledger_dev.stack import exporters
from procledger_dev.stack import postgres as stack_postgres
from procledger_dev.stack import prometheus as stack_prometheus
from procledger_dev.stack.config import StackConfig
from procledger_dev.stack.procs import read_pid, wait_until
from tests.integration.test_observability import (
    ROOT,
    series,
    variable_exprs,
    wait_for,
    wait_for_every_series,
    without_thresholds,
)

KAFKA_PORT = int(os.environ.get("SERVER_METRICS_KAFKA_PORT", "18792"))
PG_PORT = int(os.environ.get("SERVER_METRICS_PG_PORT", "25732"))
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "servers.json"
RULES = PROMETHEUS / "rules" / "servers.yml"
TOPIC = "server.metrics"


def answers(cfg: StackConfig) -> bool:
    try:
        return stack_prometheus.query(cfg, "up")["status"] == "success"
    except OSError:  # URLError included: not listening yet
        return False


@pytest.fixture(scope="module")
def servers() -> Iterator[ChaosStack]:
    # Readable by the postgres server user (pytest's tmp dirs are private to root).
    root = Path(tempfile.mkdtemp(prefix="procledger-servers-"))
    root.chmod(0o755)
    stack = ChaosStack.create(
        root, kafka_port=KAFKA_PORT, pg_port=PG_PORT, cache_dir=StackConfig.from_env().cache_dir
    )
    cfg = stack.cfg
    try:
        stack.up()
        exporters.up(cfg)
        # The stack's own Prometheus: its config lists the exporters at this stack's ports.
        stack_prometheus.up(cfg)
        wait_until(lambda: answers(cfg), 60, "private Prometheus", cfg.logs / "prometheus.log")
        yield stack
    finally:
        stack_prometheus.down(cfg)
        exporters.down(cfg)
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


def traffic(stack: ChaosStack) -> None:
    """Messages on a topic of our own, and transactions, locks and sessions in PostgreSQL."""
    admin = KafkaAdminClient(bootstrap_servers=stack.bootstrap_servers, client_id="servers")
    try:
        if TOPIC not in admin.list_topics():
            admin.create_topics([NewTopic(TOPIC, 3, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(bootstrap_servers=stack.bootstrap_servers, acks="all")
    try:
        for i in range(200):
            producer.send(TOPIC, f"record {i}".encode())
        producer.flush(30)
    finally:
        producer.close()
    with psycopg.connect(stack.admin_url()) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS load (n int)")
        for i in range(20):
            conn.execute("INSERT INTO load VALUES (%s)", (i,))
            conn.commit()


def dashboard_exprs() -> list[str]:
    model = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for panel in model["panels"] for t in panel.get("targets", [])]
    return [as_promql(e) for e in exprs]


def rules() -> list[dict[str, Any]]:
    loaded: list[dict[str, Any]] = yaml.safe_load(RULES.read_text())["groups"][0]["rules"]
    return loaded


def test_every_servers_expression_returns_data_and_the_alerts_fire(servers: ChaosStack) -> None:
    cfg = servers.cfg
    traffic(servers)
    checks = {e: "dashboard" for e in dashboard_exprs()}
    checks.update({e: "variable" for e in variable_exprs([DASHBOARD])})
    alerts = {rule["alert"]: rule["expr"] for rule in rules()}
    checks.update({without_thresholds(e): f"alert {n} (no threshold)" for n, e in alerts.items()})
    assert len(checks) > 30
    # Rates need fresh increases between two scrapes: new traffic before each round.
    wait_for_every_series(cfg, checks, 120, between=lambda: traffic(servers))

    # The figures are this stack's: its topic's log holds the bytes just written.
    size = series(cfg, f'sum(kafka_log_size_bytes{{topic="{TOPIC}"}})')
    assert float(size[0]["value"][1]) > 200 * len("record 0")
    assert not any(series(cfg, expr) for expr in alerts.values()), "a healthy stack alerts"

    # The alerts watch the real failure: a killed broker, a stopped database.
    servers.kill_broker(1)
    wait_for("KafkaBrokerDown's expression", lambda: bool(series(cfg, alerts["KafkaBrokerDown"])))
    stack_postgres.stop(cfg, "fast")
    wait_for("PostgresDown's expression", lambda: bool(series(cfg, alerts["PostgresDown"])))
    assert read_pid(cfg.root / "postgres-exporter" / "exporter.pid") is not None
