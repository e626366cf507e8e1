"""The dead-letter outbox under a crash: SIGKILL between a batch's commit and its DLQ copies."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from procledger.adapters.kafka.dlq import DLQ_ID_HEADER
from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import ConsumerFleet
from procledger_dev.chaos.oracle import Expected, dlq_ids
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.stack.procs import wait_until
from tests.plugins.ledger import LedgerEnv

from .conftest import FULL, oracle_discrepancies, published_records, scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]
KILL = "PROCLEDGER_FAULT_KILL_BEFORE_DLQ"
# Re-deliveries (REDELIVERED) are acknowledged, never dead-lettered: only the others count.
DEAD_LETTERS = "ledger.rejections r WHERE r.reason_code <> 'REDELIVERED'"
PENDING_SQL = (
    f"SELECT count(*) FROM {DEAD_LETTERS} AND NOT EXISTS (SELECT 1 FROM "
    "ledger.dlq_forwarded f WHERE (f.topic, f.kafka_partition, f.kafka_offset) = "
    "(r.topic, r.kafka_partition, r.kafka_offset))"
)


def _rejected_ids(ledger: LedgerEnv) -> set[str]:
    rows = ledger.rows(f"SELECT topic, kafka_partition, kafka_offset FROM {DEAD_LETTERS}")
    return {f"{t}/{p}/{o}" for t, p, o in rows}


def test_sigkill_between_commit_and_dlq_forward(
    cledger: LedgerEnv, tmp_path: Path, record: Record
) -> None:
    n, kills = (40_000, 10) if FULL else (5_000, 3)
    started = time.monotonic()
    oracle = SyntheticOracle()
    cledger.publish(synthetic_events(n, seed=808, invalid_ratio=0.03, oracle=oracle))
    fleet = ConsumerFleet(cledger.env, tmp_path / "logs", seed=808)
    for _ in range(kills):
        # Each member commits one to three batches with rejections, then SIGKILLs itself
        # after the next such commit, before forwarding it: those copies exist only as
        # unmarked rows in the ledger. The next member sends them on assignment.
        member = fleet.start({KILL: str(fleet.rng.randint(1, 3))})
        assert member.proc.wait(timeout=300) == -signal.SIGKILL, member.log_text()[-2000:]
        fleet.counts.kills += 1
    lost = _rejected_ids(cledger) - set(dlq_ids(cledger.kafka, cledger.topics.dlq, DLQ_ID_HEADER))
    pending_before = cledger.scalar(PENDING_SQL)
    # The crash did lose copies, and the ledger knows which: the precondition of the test.
    assert lost and pending_before >= len(lost)

    last = fleet.start()
    found = oracle_discrepancies(cledger, Expected.from_synthetic(oracle))
    wait_until(lambda: cledger.scalar(PENDING_SQL) == 0, 120, "every DLQ copy to be marked")
    copies = dlq_ids(cledger.kafka, cledger.topics.dlq, DLQ_ID_HEADER)
    rejected = _rejected_ids(cledger)
    codes = fleet.stop_all()
    repeats = sum(copies.values()) - len(copies)
    record(scenario(
        "consumer SIGKILLed between commit and DLQ forward", events=published_records(cledger),
        consumers_started=fleet.counts.started, kills=fleet.counts.kills,
        rebalances=fleet.rebalances, discrepancies=len(found),
        seconds=time.monotonic() - started,
        figures={"rejections": f"{len(rejected):,}", "DLQ copies": f"{sum(copies.values()):,}",
                 "lost by the kills, then resent": f"{len(lost):,}",
                 "repeats": f"{repeats:,}"},
    ))  # fmt: skip
    assert found == []
    assert codes == {last.name: 0}
    # Every rejection reached the DLQ at least once, and nothing else did (no re-delivery).
    assert set(copies) == rejected
    assert "not confirmed on the DLQ" in last.log_text()
