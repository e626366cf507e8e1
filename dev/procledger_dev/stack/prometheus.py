"""Prometheus from Debian's package, scraping the project's services."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

from procledger_dev.stack.config import REPO_ROOT, StackConfig
from procledger_dev.stack.procs import port_open, read_pid, require, spawn, stop_pid, wait_until

CONFIG = REPO_ROOT / "deploy" / "prometheus" / "prometheus.yml"
RULES_DIR = REPO_ROOT / "deploy" / "prometheus"


def _home(cfg: StackConfig) -> Path:
    return cfg.root / "prometheus"


def _ready(cfg: StackConfig) -> bool:
    url = f"http://127.0.0.1:{cfg.prometheus_port}/-/ready"
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


# Every scrape job of a stack: its name and the ports of its targets on 127.0.0.1. One list,
# so an exporter is one more line here.
JOBS: tuple[tuple[str, Callable[[StackConfig], list[int]]], ...] = (
    ("prometheus", lambda cfg: [cfg.prometheus_port]),
    ("procledger-consumer", lambda cfg: cfg.services.consumer_ports()),
    ("procledger-intake", lambda cfg: [cfg.services.intake]),
    ("procledger-audit", lambda cfg: [cfg.services.audit]),
    ("procledger-publish", lambda cfg: [cfg.services.publish]),
    # The servers: each broker's JMX exporter agent and postgres_exporter (stack.exporters).
    ("kafka", lambda cfg: cfg.kafka_exporter_ports()),
    ("postgres", lambda cfg: [cfg.pg_exporter_port]),
)
HEADER = """\
# Scrapes every service of the local stack (`procledger-dev stack up`); docker-compose mounts
# deploy/prometheus/prometheus.compose.yml, which names the same jobs by service name.
# Generated for the default ports by `python -m procledger_dev.stack.prometheus`; `stack up`
# writes its own copy from STACK_PROMETHEUS_PORT and the services' port variables.
"""


def config_text(cfg: StackConfig, rules: str = "rules/*.yml") -> str:
    """prometheus.yml for this stack: only its own Prometheus and services' ports."""
    lines = [HEADER.rstrip("\n"), "global:", "  scrape_interval: 5s", "  evaluation_interval: 5s",
             "", "rule_files:", f"  - {rules}", "", "scrape_configs:"]  # fmt: skip
    for job, ports in JOBS:
        targets = ", ".join(f'"127.0.0.1:{port}"' for port in ports(cfg))
        lines += [f"  - job_name: {job}", "    static_configs:", f"      - targets: [{targets}]"]
    return "\n".join(lines) + "\n"


def render_config(cfg: StackConfig) -> Path:
    """This stack's prometheus.yml, with the rule paths made absolute."""
    text = config_text(cfg, rules=f"{RULES_DIR}/rules/*.yml")
    target = _home(cfg) / "prometheus.yml"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    return target


def up(cfg: StackConfig) -> list[str]:
    binary = require("prometheus", "prometheus")
    home = _home(cfg)
    log = cfg.logs / "prometheus.log"
    config = home / "prometheus.yml"
    if read_pid(home / "prometheus.pid") is None:
        render_config(cfg)
        spawn(
            [binary, f"--config.file={config}", f"--storage.tsdb.path={home / 'data'}",
             f"--web.listen-address=127.0.0.1:{cfg.prometheus_port}", "--web.enable-lifecycle",
             "--storage.tsdb.retention.time=7d"],
            home / "prometheus.pid",
            log,
        )  # fmt: skip
    wait_until(lambda: _ready(cfg), 60, "Prometheus", log)
    return [f"prometheus http://127.0.0.1:{cfg.prometheus_port} (config {config})"]


def reload(cfg: StackConfig) -> None:
    """Ask a running Prometheus to re-read its configuration (lifecycle API)."""
    render_config(cfg)
    req = urllib.request.Request(f"http://127.0.0.1:{cfg.prometheus_port}/-/reload", method="POST")
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 (loopback only)
        pass


def query(cfg: StackConfig, promql: str) -> dict[str, object]:
    """Evaluate an instant query through the HTTP API."""
    url = f"http://127.0.0.1:{cfg.prometheus_port}/api/v1/query?{urlencode({'query': promql})}"
    with urllib.request.urlopen(url, timeout=10) as resp:
        result: dict[str, object] = json.load(resp)
    return result


def down(cfg: StackConfig) -> list[str]:
    stopped = stop_pid(_home(cfg) / "prometheus.pid")
    return ["prometheus stopped" if stopped else "prometheus not running"]


def status(cfg: StackConfig) -> list[str]:
    pid = read_pid(_home(cfg) / "prometheus.pid")
    running = pid is not None and port_open(cfg.prometheus_port)
    state = f"running (pid {pid})" if running else "stopped"
    return [f"prometheus http://127.0.0.1:{cfg.prometheus_port} {state}"]


if __name__ == "__main__":
    # Rewrites deploy/prometheus/prometheus.yml for the default ports (a unit test compares).
    CONFIG.write_text(config_text(StackConfig.from_env({})))
