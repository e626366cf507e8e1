"""Database faults: PostgreSQL restarted mid-stream in fast and immediate shutdown modes;
SIGTERM to a consumer blocked on a frozen PostgreSQL."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import DB_RETRY, ConsumerFleet
from procledger_dev.chaos.load import PublisherThread
from procledger_dev.chaos.oracle import Expected
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.chaos.stacks import ChaosStack

from .conftest import FULL, ledger_env, oracle_discrepancies, published_records, scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restarts_mid_stream(
    chaos_stack: ChaosStack, mode: str, tmp_path: Path, record: Record
) -> None:
    n, restarts = (100_000, 4) if FULL else (6_000, 1)
    started = time.monotonic()
    ledger = ledger_env(chaos_stack)
    oracle = SyntheticOracle()
    events = list(synthetic_events(n, seed=606, invalid_ratio=0.02, oracle=oracle))
    fleet = ConsumerFleet(ledger.env, tmp_path / "logs", seed=606)
    publisher = PublisherThread(ledger.kafka, ledger.topics, events, chunks=6 * restarts)
    consumers = [fleet.start(), fleet.start()]
    publisher.start()
    for i in range(1, restarts + 1):
        ledger.wait_applied(n * i // (restarts + 2), timeout=600)
        # Down long enough that the consumers' batches fail and back off at least once.
        chaos_stack.restart_postgres(mode, down_s=fleet.delay(2.0, 5.0))
    publisher.finish()
    found = oracle_discrepancies(ledger, Expected.from_synthetic(oracle))
    retries = fleet.log_count(DB_RETRY)
    codes = fleet.stop_all()
    record(scenario(
        f"PostgreSQL restarted ({mode} shutdown)", events=published_records(ledger),
        consumers_started=fleet.counts.started, rebalances=fleet.rebalances,
        db_restarts={mode: restarts}, discrepancies=len(found),
        seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert found == []
    # Both consumers lived through it (no restart by the test) and retried with backoff.
    assert fleet.counts.started == len(consumers)
    assert set(codes.values()) == {0}
    assert retries >= 1, "\n".join(m.log_text()[-1500:] for m in consumers)


STOP_LIMIT_S = 5  # CONSUMER_STOP_TIMEOUT_S for the test: short, so the test is


def test_sigterm_ends_a_consumer_blocked_on_a_frozen_postgres(
    chaos_stack: ChaosStack, tmp_path: Path, record: Record
) -> None:
    """No server-side limit runs on a SIGSTOPped server: without the stop watchdog the
    consumer waited inside its statement for ever, SIGTERM or not."""
    n = 30_000 if FULL else 6_000
    started = time.monotonic()
    ledger = ledger_env(chaos_stack, CONSUMER_STOP_TIMEOUT_S=str(STOP_LIMIT_S))
    oracle = SyntheticOracle()
    events = list(synthetic_events(n, seed=707, invalid_ratio=0.02, oracle=oracle))
    fleet = ConsumerFleet(ledger.env, tmp_path / "logs", seed=707)
    publisher = PublisherThread(ledger.kafka, ledger.topics, events, chunks=12)
    frozen = fleet.start()
    publisher.start()
    ledger.wait_applied(n // 6, timeout=600)
    pids = chaos_stack.freeze_postgres()
    try:
        # Within one lag interval (5 s) the loop's next statement waits on the frozen server.
        time.sleep(8)
        stopping = time.monotonic()
        frozen.ended_by_fleet = True
        frozen.proc.send_signal(signal.SIGTERM)
        try:
            code = frozen.proc.wait(timeout=STOP_LIMIT_S + 30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"SIGTERM did not end the consumer within {STOP_LIMIT_S + 30} s")
        stopped_s = time.monotonic() - stopping
    finally:
        chaos_stack.thaw_postgres(pids)
    said = frozen.log_text()
    # A second member folds the rest, the frozen batch included: it never committed.
    fleet.start()
    publisher.finish()
    found = oracle_discrepancies(ledger, Expected.from_synthetic(oracle))
    codes = fleet.stop_all()
    record(scenario(
        "SIGTERM to a consumer blocked on a SIGSTOPped PostgreSQL",
        events=published_records(ledger), consumers_started=fleet.counts.started,
        discrepancies=len(found), seconds=time.monotonic() - started,
        figures={"CONSUMER_STOP_TIMEOUT_S": f"{STOP_LIMIT_S} s",
                 "SIGTERM to exit": f"{stopped_s:.1f} s", "exit code": str(code)},
    ))  # fmt: skip
    assert code == 3, said[-3000:]
    assert "did not finish within 5s of the signal" in said, said[-3000:]
    assert found == []
    assert set(codes.values()) == {0} and fleet.vanished() == {}
