"""The real Prometheus scrapes a target it was configured with and answers queries."""

from __future__ import annotations

import time

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
