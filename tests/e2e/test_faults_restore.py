"""PostgreSQL lost and restored from a base backup taken mid-stream: the ledger catches up."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from kafka import KafkaAdminClient

from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import ConsumerFleet
from procledger_dev.chaos.load import PublisherThread
from procledger_dev.chaos.oracle import Expected
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.chaos.stacks import ChaosStack
from procledger_dev.stack.procs import wait_until
from tests.plugins.ledger import LedgerEnv

from .conftest import FULL, ledger_env, oracle_discrepancies, published_records, scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]
RESUMING = re.compile(r"partition (\S+)-(\d+): resuming at ledger offset (\d+)")


def _positions(ledger: LedgerEnv) -> dict[tuple[str, int], int]:
    rows = ledger.rows("SELECT topic, kafka_partition, next_offset FROM ledger.positions")
    return {(t, p): n for t, p, n in rows}


def _kafka_committed(ledger: LedgerEnv) -> dict[tuple[str, int], int]:
    """The group's offsets as mirrored to Kafka (what a Kafka-trusting consumer would use)."""
    admin = KafkaAdminClient(client_id="chaos-restore", **ledger.kafka.client_config())
    try:
        group = ledger.env["CONSUMER_GROUP"]
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


def test_postgres_restored_from_a_base_backup_mid_stream(
    spare_stack: ChaosStack, tmp_path: Path, record: Record
) -> None:
    n = 60_000 if FULL else 8_000
    started = time.monotonic()
    ledger = ledger_env(spare_stack)
    oracle = SyntheticOracle()
    events = list(synthetic_events(n, seed=1010, invalid_ratio=0.02, oracle=oracle))
    fleet = ConsumerFleet(ledger.env, tmp_path / "logs", seed=1010)
    publisher = PublisherThread(ledger.kafka, ledger.topics, events, chunks=20)
    before = [fleet.start(), fleet.start()]
    publisher.start()
    ledger.wait_applied(n // 4, timeout=600)
    backup = spare_stack.base_backup()  # while both consumers commit batches
    # The backup ends where its streamed WAL ends: the ledger must move well past that point.
    at_backup = sum(_positions(ledger).values())
    ledger.wait_applied(min(n * 9 // 10, at_backup + n // 4), timeout=600)
    for member in before:  # the database host is lost, and the consumers with it
        fleet.kill(member)
    lost_positions = _positions(ledger)
    committed = _kafka_committed(ledger)

    lost_at = time.monotonic()
    spare_stack.restore_postgres(backup)
    restored_at = time.monotonic()
    restored = _positions(ledger)
    behind = {tp: committed[tp] - restored.get(tp, 0) for tp in committed}
    # The point of the scenario: Kafka's mirror is ahead of the restored ledger, so a consumer
    # seeking to Kafka's offsets would skip records, and the oracle below would see the hole.
    assert sum(behind.values()) > 0, (committed, restored)
    assert sum(restored.values()) < sum(lost_positions.values())

    after = [fleet.start(), fleet.start()]
    publisher.finish()
    found = oracle_discrepancies(ledger, Expected.from_synthetic(oracle))
    caught_up = time.monotonic()
    # Each partition's first seek after the restore went to the restored ledger's position.
    wait_until(lambda: all("resuming at ledger offset" in m.log_text() for m in after), 60,
               "both new members' seeks")  # fmt: skip
    seeks: dict[tuple[str, int], int] = {}
    for member in after:
        for topic, partition, offset in RESUMING.findall(member.log_text()):
            seeks.setdefault((topic, int(partition)), int(offset))
    verify = subprocess.run(
        [sys.executable, "-m", "procledger", "audit", "verify"],
        env=ledger.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    codes = fleet.stop_all()
    record(scenario(
        "PostgreSQL restored from a base backup taken mid-stream",
        events=published_records(ledger), consumers_started=fleet.counts.started,
        kills=fleet.counts.kills, rebalances=fleet.rebalances,
        db_restarts=dict(spare_stack.faults.db_restarts), discrepancies=len(found),
        seconds=time.monotonic() - started,
        figures={"ledger at the loss": f"{sum(lost_positions.values()):,} offsets",
                 "restored": f"{sum(restored.values()):,} offsets",
                 "Kafka's mirror ahead of it": f"{sum(behind.values()):,} records",
                 "restore": f"{restored_at - lost_at:.0f} s",
                 "caught up after it": f"{caught_up - restored_at:.0f} s",
                 "audit verify": "ok" if verify.returncode == 0 else "FAILED"},
    ))  # fmt: skip
    assert found == []
    assert verify.returncode == 0, verify.stdout[-3000:] + verify.stderr[-3000:]
    assert set(codes.values()) == {0}
    assert seeks, "no seek logged"
    for tp, offset in seeks.items():
        assert offset == restored.get(tp, 0), (tp, offset, restored.get(tp), committed.get(tp))
