"""The servers' Prometheus exporters: the JMX agent inside each broker, postgres_exporter beside."""

from __future__ import annotations

import os
from pathlib import Path

from procledger_dev.stack.config import REPO_ROOT, StackConfig, StackError
from procledger_dev.stack.procs import (
    maven_copy,
    port_open,
    read_pid,
    require,
    spawn,
    stop_pid,
    wait_until,
)

JMX_POM = REPO_ROOT / "deploy" / "kafka" / "jmx-exporter-pom.xml"
JMX_RULES = REPO_ROOT / "deploy" / "kafka" / "jmx-exporter.yml"
PG_EXPORTER = "prometheus-postgres-exporter"  # Debian's package and binary
PG_QUERIES = REPO_ROOT / "deploy" / "postgres" / "exporter-queries.yml"


def jmx_exporter_version() -> str:
    text = JMX_POM.read_text()
    return text.split("<jmx.exporter.version>")[1].split("</jmx.exporter.version>")[0]


def ensure_jmx_agent(cfg: StackConfig) -> Path:
    """The agent jar, resolved by Maven into the cache once."""
    version = jmx_exporter_version()
    folder = maven_copy(
        JMX_POM, cfg.cache_dir / f"jmx-exporter-{version}", f"JMX exporter {version}"
    )
    return folder / f"jmx_prometheus_javaagent-{version}.jar"


def jmx_agent_option(cfg: StackConfig, node: int) -> str:
    """The broker's -javaagent option: metrics on 127.0.0.1 at the node's exporter port."""
    port = cfg.kafka_exporter_ports()[node - 1]
    if port_open(port):
        raise StackError(
            f"port {port} for broker {node}'s JMX exporter is taken by another process; "
            "set STACK_KAFKA_EXPORTER_PORT"
        )
    return f"-javaagent:{ensure_jmx_agent(cfg)}=127.0.0.1:{port}:{JMX_RULES}"


def _home(cfg: StackConfig) -> Path:
    return cfg.root / "postgres-exporter"


def _data_source(cfg: StackConfig) -> str:
    # The stack's superuser: it may read every pg_stat view (a production exporter would use
    # a role granted pg_monitor). The local server has no TLS.
    return cfg.database_url + "?sslmode=disable"


def up(cfg: StackConfig) -> list[str]:
    """Start postgres_exporter for the stack's PostgreSQL and wait until it serves metrics."""
    binary = require(PG_EXPORTER, PG_EXPORTER)
    home = _home(cfg)
    home.mkdir(parents=True, exist_ok=True)
    log = cfg.logs / "postgres-exporter.log"
    port = cfg.pg_exporter_port
    if read_pid(home / "exporter.pid") is None:
        if port_open(port):
            raise StackError(f"port {port} is taken by another process; set STACK_PG_EXPORTER_PORT")
        env = {**os.environ, "DATA_SOURCE_NAME": _data_source(cfg)}
        spawn(
            [binary, f"--web.listen-address=127.0.0.1:{port}",
             f"--extend.query-path={PG_QUERIES}"],
            home / "exporter.pid",
            log,
            env=env,
        )  # fmt: skip
    wait_until(lambda: port_open(port), 30, "postgres_exporter", log)
    lines = [f"pg-export  http://127.0.0.1:{port}/metrics ({PG_EXPORTER})"]
    for node, jmx in enumerate(cfg.kafka_exporter_ports(), start=1):
        lines.append(f"kafka-jmx  http://127.0.0.1:{jmx}/metrics (broker {node}'s JMX agent)")
    return lines


def down(cfg: StackConfig) -> list[str]:
    stopped = stop_pid(_home(cfg) / "exporter.pid")
    return ["pg-export  stopped" if stopped else "pg-export  not running"]


def status(cfg: StackConfig) -> list[str]:
    pid = read_pid(_home(cfg) / "exporter.pid")
    running = pid is not None and port_open(cfg.pg_exporter_port)
    state = f"running (pid {pid})" if running else "stopped"
    return [f"pg-export  http://127.0.0.1:{cfg.pg_exporter_port} {state}"]
