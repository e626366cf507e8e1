"""The real Prometheus scrapes a target it was configured with and answers queries."""

from __future__ import annotations

import functools
import json
import os
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Gauge, start_http_server

from procledger_dev.stack import prometheus
from procledger_dev.stack.config import StackConfig


def test_prometheus_scrapes_a_target_and_answers_a_query(stack: StackConfig) -> None:
    registry = CollectorRegistry()
    probe = Gauge("procledger_stack_probe", "Set by the stack test", registry=registry)
    probe.set(42)
    # 9420 is the procledger-publish job's target in deploy/prometheus/prometheus.yml.
    server, thread = start_http_server(9420, addr="127.0.0.1", registry=registry)
    try:
        deadline = time.monotonic() + 60
        result: list[object] = []
        while time.monotonic() < deadline and not result:
            answer = prometheus.query(stack, 'procledger_stack_probe{job="procledger-publish"}')
            assert answer["status"] == "success"
            data = answer["data"]
            assert isinstance(data, dict)
            result = data["result"]
            time.sleep(1)
        assert result, "Prometheus never scraped the probe target"
        sample = result[0]
        assert isinstance(sample, dict)
        assert sample["value"][1] == "42"
    finally:
        server.shutdown()
        thread.join()


# Two private stacks' Prometheus servers, each with its own services' ports (none is the
# shared stack's): ports from TEST_STACKS_BASE_PORT, 22590 and up by default.
BASE = int(os.environ.get("TEST_STACKS_BASE_PORT", "22590"))
T = TypeVar("T")


def private_stack(root: Path, offset: int) -> StackConfig:
    base = BASE + 20 * offset
    return StackConfig.from_env({
        "STACK_DIR": str(root),
        "STACK_PROMETHEUS_PORT": str(base),
        "CONSUMER_METRICS_PORT": str(base + 1),  # +1, +2, +3: three group members
        "INTAKE_PORT": str(base + 4),
        "AUDIT_PORT": str(base + 5),
        "PUBLISH_METRICS_PORT": str(base + 6),
        "STACK_KAFKA_EXPORTER_PORT": str(base + 7),
        "STACK_PG_EXPORTER_PORT": str(base + 8),
    })  # fmt: skip


def targets(cfg: StackConfig) -> dict[str, set[str]]:
    url = f"http://127.0.0.1:{cfg.prometheus_port}/api/v1/targets"
    with urllib.request.urlopen(url, timeout=10) as resp:
        active = json.load(resp)["data"]["activeTargets"]
    found: dict[str, set[str]] = {}
    for target in active:
        found.setdefault(target["labels"]["job"], set()).add(target["labels"]["instance"])
    return found


def eventually(read: Callable[[], T], done: Callable[[T], bool], timeout: float = 60) -> T:
    """`read()` until `done` says so or the time is up; the last reading either way."""
    deadline = time.monotonic() + timeout
    value = read()
    while not done(value) and time.monotonic() < deadline:
        time.sleep(1)
        value = read()
    return value


def results(cfg: StackConfig, promql: str) -> list[Any]:
    data = prometheus.query(cfg, promql)["data"]
    assert isinstance(data, dict)
    found: list[Any] = data["result"]
    return found


def test_two_stacks_side_by_side_each_scrape_only_their_own_services(tmp_path: Path) -> None:
    stacks = [private_stack(tmp_path / "a", 0), private_stack(tmp_path / "b", 1)]
    servers = []
    try:
        for i, cfg in enumerate(stacks):
            prometheus.up(cfg)
            registry = CollectorRegistry()
            Gauge("procledger_stack_probe", "Which stack", registry=registry).set(i + 1)
            servers.append(start_http_server(cfg.services.consumer, "127.0.0.1", registry))
        for i, cfg in enumerate(stacks):
            s = cfg.services
            expected = {
                "prometheus": {f"127.0.0.1:{cfg.prometheus_port}"},
                "procledger-consumer": {f"127.0.0.1:{p}" for p in s.consumer_ports()},
                "procledger-intake": {f"127.0.0.1:{s.intake}"},
                "procledger-audit": {f"127.0.0.1:{s.audit}"},
                "procledger-publish": {f"127.0.0.1:{s.publish}"},
                "kafka": {f"127.0.0.1:{p}" for p in cfg.kafka_exporter_ports()},
                "postgres": {f"127.0.0.1:{cfg.pg_exporter_port}"},
            }
            assert eventually(functools.partial(targets, cfg), bool) == expected
            # Only its own consumer port's probe, and its own Prometheus scraped as up.
            probes = eventually(functools.partial(results, cfg, "procledger_stack_probe"), bool)
            assert [r["value"][1] for r in probes] == [str(i + 1)]
            up = eventually(functools.partial(results, cfg, 'up{job="prometheus"} == 1'), bool)
            assert [r["metric"]["instance"] for r in up] == [f"127.0.0.1:{cfg.prometheus_port}"]
    finally:
        for server, thread in servers:
            server.shutdown()
            thread.join()
        for cfg in stacks:
            prometheus.down(cfg)
