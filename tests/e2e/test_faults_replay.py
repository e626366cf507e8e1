"""Producer retries and replays: duplicates, reordered re-sends, new groups, seeking back."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.dlq import KafkaDlqForwarder
from procledger.adapters.kafka.source import KafkaEventSource
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.ledger.loop import ConsumerTuning, LedgerConsumer
from procledger.ledger.metrics import ConsumerMetrics
from procledger.scenario.synthetic import SyntheticOracle, synthetic_events
from procledger_dev.chaos.fleet import ConsumerFleet
from procledger_dev.chaos.oracle import Expected
from procledger_dev.chaos.report import ScenarioFigures
from tests.plugins.ledger import LedgerEnv, snapshot

from .conftest import FULL, oracle_discrepancies, published_records, scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]


def _replay_from_zero(ledger: LedgerEnv) -> int:
    """An in-process consumer that, once caught up, seeks every partition back to 0."""
    source = KafkaEventSource(
        ledger.kafka, [ledger.topics.orders, ledger.topics.stockpile_targets],
        ledger.env["CONSUMER_GROUP"] + ".seek", session_timeout_ms=6000,
    )  # fmt: skip
    store = PostgresLedgerStore(ledger.database.url)
    forwarder = KafkaDlqForwarder(ledger.kafka, ledger.topics.dlq)
    consumer = LedgerConsumer(
        source, store, forwarder, ConsumerMetrics(CollectorRegistry()),
        tuning=ConsumerTuning(max_records=500),
    )  # fmt: skip
    stop = threading.Event()
    polled = 0
    try:
        while not source.assigned():
            consumer.step(stop)
        # One more step takes the assignment (seeking it to the ledger) before we seek back.
        consumer.step(stop)
        total = sum(source.end_offsets().values())
        for tp in sorted(source.assigned()):
            source.seek(tp, 0)  # everything again, in Kafka's order, from the first offset
        deadline = time.monotonic() + 120
        while polled < total:
            assert time.monotonic() < deadline, f"replayed {polled} of {total} records"
            polled += consumer.step(stop)
    finally:
        source.close()
        forwarder.close()
        store.close()
    return polled


def test_duplicates_reordered_resends_and_replays_are_harmless(
    cledger: LedgerEnv, tmp_path: Path, record: Record
) -> None:
    n = 30_000 if FULL else 4_000
    started = time.monotonic()
    oracle = SyntheticOracle()
    events = list(synthetic_events(n, seed=707, oracle=oracle))
    cledger.publish(events)
    cledger.consume()
    clean = snapshot(cledger)

    # A producer retrying everything, in reverse order and again in a shuffled order.
    fleet = ConsumerFleet(cledger.env, tmp_path / "logs", seed=707)
    resent = list(reversed(events))
    shuffled = list(events)
    fleet.rng.shuffle(shuffled)
    cledger.publish(resent)
    cledger.publish(shuffled)
    cledger.consume()
    # A consumer in a brand-new group starts from Kafka offset 0; the ledger's positions rule.
    cledger.consume(group=cledger.env["CONSUMER_GROUP"] + ".new")
    replayed = _replay_from_zero(cledger)
    found = oracle_discrepancies(
        cledger, Expected.from_synthetic(oracle, extra={"REDELIVERED": 2 * n})
    )
    record(scenario(
        "duplicates, reordered re-sends, new group, seek to 0", events=published_records(cledger),
        consumers_started=4, discrepancies=len(found), seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert found == []
    assert replayed == 3 * n
    assert snapshot(cledger) == clean
