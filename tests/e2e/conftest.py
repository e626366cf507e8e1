"""A second, private stack for fault injection; ledgers on it; the reliability report."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from procledger_dev.chaos.fleet import stop_every_fleet
from procledger_dev.chaos.oracle import Expected, discrepancies, end_offsets, read_ledger
from procledger_dev.chaos.report import RunSummary, ScenarioFigures, now_text, write_report
from procledger_dev.chaos.stacks import ChaosStack
from procledger_dev.stack.config import REPO_ROOT, StackConfig
from tests.plugins.ledger import LedgerEnv, make_ledger

FULL = os.environ.get("PROCLEDGER_CHAOS") == "full"
MODE = "full" if FULL else "short"
# Tests must leave a clean clone clean: the report goes to var/ unless a run asks for the
# tracked one on purpose (`make chaos` sets PROCLEDGER_RELIABILITY_REPORT=docs/reliability.md).
REPORT = Path(
    os.environ.get(
        "PROCLEDGER_RELIABILITY_REPORT", REPO_ROOT / "var" / "reports" / "reliability.md"
    )
)
# Ports of the private stack: far from the main stack (9092, 55432) and the other tests'.
KAFKA_PORT = int(os.environ.get("CHAOS_KAFKA_PORT", "19392"))
# Below 32768, outside Linux's ephemeral range: a restart mid-run must not find its port
# taken as the source port of some client's connection (seen once in CI with 56432).
PG_PORT = int(os.environ.get("CHAOS_PG_PORT", "25532"))
# The private broker listens on KAFKA_PORT, +1 (controller), +100 (SASL) and +200 (SASL_SSL);
# the 3-node cluster takes six ports from CLUSTER_PORT.
CLUSTER_PORT = int(os.environ.get("CHAOS_CLUSTER_PORT", str(KAFKA_PORT + 300)))
# A second PostgreSQL of the private stack, for faults that hit a whole server (a restore).
SPARE_PG_PORT = int(os.environ.get("CHAOS_SPARE_PG_PORT", str(PG_PORT + 1)))
SASL_USERNAME = "procledger"
SASL_PASSWORD = "procledger-secret"

_figures: list[ScenarioFigures] = []
_outcomes = {"passed": 0, "failed": 0}
_started = time.monotonic()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call" or report.failed:
        _outcomes["passed" if report.passed else "failed"] += int(not report.skipped)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Write docs/reliability.md from the figures the scenarios recorded in this run."""
    args = session.config.args
    # A run of a few chosen tests must not replace the report of the whole suite.
    partial = bool(session.config.option.keyword) or any(
        "::" in arg or arg.endswith(".py") for arg in args
    )
    if not _figures or partial:
        return
    summary = RunSummary(
        mode=MODE,
        finished_at=now_text(),
        passed=_outcomes["passed"],
        failed=_outcomes["failed"],
        seconds=time.monotonic() - _started,
        scenarios=sorted(_figures, key=lambda f: f.scenario),
    )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    write_report(REPORT, summary)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Each recorded scenario's figures, also on a partial run (which writes no report)."""
    for figures in _figures:
        terminalreporter.write_line(f"figures: {figures}")


def _private_root(prefix: str) -> Path:
    # Readable by the postgres server user (pytest's tmp dirs are private to root).
    root = Path(tempfile.mkdtemp(prefix=prefix))
    root.chmod(0o755)
    return root


@pytest.fixture(scope="session")
def chaos_stack() -> Iterator[ChaosStack]:
    """Kafka (PLAINTEXT, SASL/SCRAM, SASL_SSL) and PostgreSQL of our own; stopped at the end."""
    root = _private_root("procledger-chaos-")
    stack = ChaosStack.create(
        root, kafka_port=KAFKA_PORT, pg_port=PG_PORT,
        cache_dir=StackConfig.from_env().cache_dir, sasl=True, tls=True,
    )  # fmt: skip
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def spare_stack(chaos_stack: ChaosStack) -> Iterator[ChaosStack]:
    """A PostgreSQL of its own beside the private stack's Kafka: a test may lose it whole."""
    root = _private_root("procledger-spare-")
    stack = ChaosStack.create(
        root, kafka_port=KAFKA_PORT, pg_port=SPARE_PG_PORT,
        cache_dir=StackConfig.from_env().cache_dir,
    )  # fmt: skip
    try:
        stack.up(kafka=False)
        yield stack
    finally:
        stack.down()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(autouse=True)
def _no_consumer_outlives_its_test() -> Iterator[None]:
    yield
    stop_every_fleet()


@pytest.fixture(scope="session")
def record() -> Callable[[ScenarioFigures], None]:
    """Add one scenario's figures to the report written at the end of the session."""
    return _figures.append


def ledger_env(stack: ChaosStack, bootstrap: str | None = None, **overrides: str) -> LedgerEnv:
    """A fresh database and topics on `stack` (Kafka may be another stack's, a cluster)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap or stack.bootstrap_servers,
        # Small batches: more transactions, so a kill lands mid-batch more often.
        "CONSUMER_MAX_RECORDS": "500",
        # The broker's minimum: a SIGKILLed member leaves the group as soon as allowed.
        "CONSUMER_SESSION_TIMEOUT_MS": "6000",
        **overrides,  # later keys win, as the caller expects
    }
    return make_ledger(stack.cfg, uuid.uuid4().hex[:10], **env)


@pytest.fixture
def cledger(chaos_stack: ChaosStack) -> Iterator[LedgerEnv]:
    ledger = ledger_env(chaos_stack)
    yield ledger
    ledger.stop_all()


def topics_of(ledger: LedgerEnv) -> list[str]:
    return [ledger.topics.orders, ledger.topics.stockpile_targets]


def published_records(ledger: LedgerEnv) -> int:
    return sum(end_offsets(ledger.kafka, topics_of(ledger)).values())


def oracle_discrepancies(ledger: LedgerEnv, expected: Expected) -> list[str]:
    """Wait until the ledger accounts for every record Kafka holds, then compare."""
    ends = end_offsets(ledger.kafka, topics_of(ledger))
    ledger.wait_applied(sum(ends.values()), timeout=900)
    return discrepancies(read_ledger(ledger.database.admin_url), expected, ends)


def scenario(name: str, **values: Any) -> ScenarioFigures:
    return ScenarioFigures(scenario=name, **values)
