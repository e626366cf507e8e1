"""The dead-letter outbox on the real servers: every rejection marked, copied, re-sent."""

from __future__ import annotations

import signal
import subprocess
import sys

import psycopg
import pytest

from procledger.adapters.kafka.dlq import DLQ_ID_HEADER
from procledger.scenario.synthetic import synthetic_events
from procledger_dev.chaos.oracle import dlq_ids, read_records
from tests.plugins.ledger import LedgerEnv

COORDS = "SELECT topic || '/' || kafka_partition || '/' || kafka_offset FROM ledger."
# Re-deliveries (REDELIVERED) are acknowledged, never dead-lettered: the DLQ's share.
DEAD_LETTERS = "rejections WHERE reason_code <> 'REDELIVERED'"


def _ids(ledger: LedgerEnv, table: str) -> set[str]:
    return {row[0] for row in ledger.rows(COORDS + table)}


def _redelivered(ledger: LedgerEnv) -> set[str]:
    return _ids(ledger, "rejections WHERE reason_code = 'REDELIVERED'")


def test_every_rejection_is_marked_once_its_copy_is_confirmed(ledger: LedgerEnv) -> None:
    ledger.publish(synthetic_events(400, seed=41, invalid_ratio=0.1))
    ledger.consume()
    rejected = _ids(ledger, DEAD_LETTERS)
    assert rejected and _redelivered(ledger)  # both kinds are in the data
    assert _ids(ledger, "dlq_forwarded") == rejected
    copies = dlq_ids(ledger.kafka, ledger.topics.dlq, DLQ_ID_HEADER)
    assert set(copies) == rejected and set(copies.values()) == {1}  # no crash: no repeat
    # The application role may add marks, never change or remove one.
    with psycopg.connect(ledger.database.url) as conn:
        for statement in ("UPDATE ledger.dlq_forwarded SET forwarded_at = now()",
                          "DELETE FROM ledger.dlq_forwarded"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()


def test_copies_lost_to_a_crash_are_sent_again_from_the_ledger(ledger: LedgerEnv) -> None:
    ledger.publish(synthetic_events(3000, seed=42, invalid_ratio=0.05))
    crashed = subprocess.run(
        [sys.executable, "-m", "procledger", "consume"],
        env={**ledger.env, "PROCLEDGER_FAULT_KILL_BEFORE_DLQ": "1", "CONSUMER_MAX_RECORDS": "500"},
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert crashed.returncode == -signal.SIGKILL, crashed.stderr[-2000:]
    rejected = _ids(ledger, DEAD_LETTERS)
    lost = rejected - _ids(ledger, "dlq_forwarded")
    assert lost and not lost & set(dlq_ids(ledger.kafka, ledger.topics.dlq, DLQ_ID_HEADER))

    ledger.consume()
    copies = {dict(r.headers)[DLQ_ID_HEADER].decode(): r
              for r in read_records(ledger.kafka, [ledger.topics.dlq]).values()}  # fmt: skip
    assert set(copies) == _ids(ledger, DEAD_LETTERS) == _ids(ledger, "dlq_forwarded")
    assert not set(copies) & _redelivered(ledger)
    # A copy sent again from the ledger carries the original record's bytes and headers.
    sources = read_records(ledger.kafka, [ledger.topics.orders, ledger.topics.stockpile_targets])
    for dlq_id in lost:
        copy, original = copies[dlq_id], sources[dlq_id]
        assert copy.value == original.value
        assert set(original.headers) <= set(copy.headers)
        assert dict(copy.headers)["__connect.errors.offset"] == str(original.offset).encode()
