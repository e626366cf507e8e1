"""PostgreSQL frozen (SIGSTOP) while Prometheus scrapes the consumer and the audit service.

Scrapes keep answering, the database alerts fire and clear, ConsumerDown, ServiceDown and
VerificationFailing never even go pending, each service logs the outage once when it begins
and once when it ends, and the ledger still equals the oracle. A private Prometheus (with the
shipped rules) scrapes the private stack's services on their own ports.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import ConsumerFleet
from procledger_dev.chaos.load import PublisherThread
from procledger_dev.chaos.oracle import Expected
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.chaos.stacks import ChaosStack
from procledger_dev.stack import prometheus as stack_prometheus
from procledger_dev.stack.config import ServicePorts, StackConfig

from .conftest import (
    FULL,
    KAFKA_PORT,
    ledger_env,
    oracle_discrepancies,
    published_records,
    scenario,
)

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]
# The services' ports: consumer metrics on SERVICE_PORT (+1, +2 are the spare members the
# stack's config lists), audit on +3, intake +4 and publish +5 (not started here).
SERVICE_PORT = int(os.environ.get("CHAOS_SERVICE_PORT", str(KAFKA_PORT + 400)))
SCRAPE_TIMEOUT_S = 10.0  # Prometheus' default scrape_timeout, which the stack's config keeps
TOKEN = "chaos-scrapes"
DB_ALERTS = ("ConsumerDatabaseUnreachable", "AuditDatabaseUnreachable")


class Scraper(threading.Thread):
    """GETs each /metrics page every half second as Prometheus would, timing every answer."""

    def __init__(self, urls: dict[str, str]) -> None:
        super().__init__(name="scraper", daemon=True)
        self.urls = urls
        self.samples: list[tuple[float, str, float, str | None]] = []  # (at, name, took, error)
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for name, url in self.urls.items():
                started = time.monotonic()
                error = None
                try:
                    with urllib.request.urlopen(url, timeout=SCRAPE_TIMEOUT_S) as resp:
                        resp.read()
                except OSError as err:
                    error = f"{type(err).__name__}: {err}"
                self.samples.append((started, name, time.monotonic() - started, error))
            self.done.wait(0.5)

    def during(self, start: float, end: float) -> list[tuple[float, str, float, str | None]]:
        return [s for s in self.samples if start <= s[0] <= end]


def alerts(cfg: StackConfig, expr: str) -> set[str]:
    answer = stack_prometheus.query(cfg, expr)
    data = answer["data"]
    assert isinstance(data, dict)
    return {r["metric"]["alertname"] for r in data["result"]}


def value(cfg: StackConfig, expr: str) -> float | None:
    data = stack_prometheus.query(cfg, expr)["data"]
    assert isinstance(data, dict)
    result: list[Any] = data["result"]
    return float(result[0]["value"][1]) if result else None


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> float:
    """Seconds waited until `check()`; fails the test after `timeout`."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(1)
    return time.monotonic() - started


def test_postgres_frozen_while_prometheus_scrapes(
    chaos_stack: ChaosStack, tmp_path: Path, record: Record
) -> None:
    n, freeze_s = (60_000, 120.0) if FULL else (6_000, 60.0)
    started = time.monotonic()
    ports = ServicePorts(consumer=SERVICE_PORT, audit=SERVICE_PORT + 3, intake=SERVICE_PORT + 4,
                         publish=SERVICE_PORT + 5)  # fmt: skip
    cfg = dataclasses.replace(chaos_stack.cfg, services=ports)
    ledger = ledger_env(chaos_stack, CONSUMER_METRICS_PORT=str(ports.consumer))
    oracle = SyntheticOracle()
    events = list(synthetic_events(n, seed=1111, invalid_ratio=0.01, oracle=oracle))
    fleet = ConsumerFleet(ledger.env, tmp_path / "logs", seed=1111)
    audit_log = tmp_path / "logs" / "audit.log"
    scraper = Scraper({
        "consumer": f"http://127.0.0.1:{ports.consumer}/metrics",
        "audit": f"http://127.0.0.1:{ports.audit}/metrics",
    })  # fmt: skip
    pids: list[int] = []
    audit: subprocess.Popen[bytes] | None = None
    stack_prometheus.up(cfg)
    try:
        with audit_log.open("ab") as out:
            audit = subprocess.Popen(
                [sys.executable, "-m", "procledger", "serve", "audit",
                 "--port", str(ports.audit)],
                env={**ledger.env, "AUDITOR_TOKENS": TOKEN, "AUDIT_VERIFY_INTERVAL_S": "10"},
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
        consumer = fleet.start()
        # Published slowly enough that work still flows during the freeze.
        publisher = PublisherThread(ledger.kafka, ledger.topics, events, chunks=30, pause_s=3.0)
        publisher.start()
        consumer_up = f'procledger_consumer_store_up{{instance="127.0.0.1:{ports.consumer}"}}'
        audit_up = f'procledger_audit_database_up{{instance="127.0.0.1:{ports.audit}"}}'
        wait_for(
            "Prometheus to see both services reach PostgreSQL",
            lambda: value(cfg, consumer_up) == 1 and value(cfg, audit_up) == 1,
            timeout=120,
        )
        watched_from = time.monotonic()  # both targets up: from here on nothing may fire
        scraper.start()
        ledger.wait_applied(n // 6, timeout=600)

        paused_at = time.monotonic()
        pids = chaos_stack.freeze_postgres()
        firing = 'ALERTS{alertstate="firing"}'
        fired_after = wait_for(
            "the database alerts to fire",
            lambda: set(DB_ALERTS) <= alerts(cfg, firing),
            timeout=freeze_s + 60,
        )
        time.sleep(max(0.0, freeze_s - (time.monotonic() - paused_at)))
        chaos_stack.thaw_postgres(pids)
        resumed_at = time.monotonic()
        pids = []
        cleared_after = wait_for(
            "the database alerts to clear",
            lambda: not set(DB_ALERTS) & alerts(cfg, firing),
            timeout=120,
        )
        publisher.finish()
        found = oracle_discrepancies(ledger, Expected.from_synthetic(oracle))
        scraper.done.set()
        scraper.join(SCRAPE_TIMEOUT_S + 5)

        window = f"{int(time.monotonic() - watched_from)}s"
        # Pending counts too: not one evaluation thought of these alerts.
        # (ServiceDown only for the audit target: no intake runs here, so its target is down.)
        never = (
            f'ALERTS{{alertname=~"ConsumerDown|VerificationFailing"}} or '
            f'ALERTS{{alertname="ServiceDown",instance="127.0.0.1:{ports.audit}"}}'
        )
        seen = alerts(cfg, f"max_over_time(({never})[{window}:5s])")
        lowest_up = {
            name: value(cfg, f'min_over_time(up{{instance="127.0.0.1:{port}"}}[{window}])')
            for name, port in (("consumer", ports.consumer), ("audit", ports.audit))
        }
        slowest = value(
            cfg,
            f'max(max_over_time(scrape_duration_seconds{{instance=~"127.0.0.1:({ports.consumer}'
            f'|{ports.audit})"}}[{window}]))',
        )
        in_pause = scraper.during(paused_at, resumed_at)
        failed = [s for s in scraper.samples if s[3] is not None]
        consumer_log = consumer.log_text()
        audit_text = audit_log.read_text(errors="replace")
        codes = fleet.stop_all()
    finally:
        scraper.done.set()
        if pids:
            chaos_stack.thaw_postgres(pids)
        if audit is not None:
            audit.terminate()
            audit.wait(30)
        stack_prometheus.down(cfg)

    longest = max((s[2] for s in in_pause), default=0.0)
    figures = scenario(
        "PostgreSQL paused (SIGSTOP) while Prometheus scrapes", events=published_records(ledger),
        consumers_started=fleet.counts.started, rebalances=fleet.rebalances,
        db_restarts={"SIGSTOP": chaos_stack.faults.db_pauses}, discrepancies=len(found),
        seconds=time.monotonic() - started,
        figures={
            "pause": f"{resumed_at - paused_at:.0f} s",
            "scrapes during the pause (test scraper)": f"{len(in_pause)}, the slowest "
            f"{longest * 1000:.0f} ms",
            "slowest scrape seen by Prometheus (whole run)": f"{(slowest or 0) * 1000:.0f} ms",
            "database alerts firing after": f"{fired_after:.0f} s of pause",
            "database alerts cleared after": f"{cleared_after:.0f} s of resumed service",
        },
    )  # fmt: skip
    record(figures)
    print(figures.figures)  # shown with -rP: the figures of a run of this test alone
    assert found == []
    assert failed == [], f"scrapes without an answer within {SCRAPE_TIMEOUT_S:.0f}s: {failed}"
    assert in_pause, "the scraper ran during the pause"
    assert seen == set(), f"went pending or firing: {seen}"
    assert lowest_up == {"consumer": 1, "audit": 1}
    assert set(codes.values()) == {0}
    # One line when the outage began (with the error), one when it ended (with its length).
    for text, what in ((consumer_log, "ledger"), (audit_text, "audit")):
        assert text.count(f"PostgreSQL (the {what} database) unreachable: ") == 1, text[-3000:]
        assert text.count(f"PostgreSQL (the {what} database) reachable again after ") == 1
    assert "verification: ok=False" not in audit_text
