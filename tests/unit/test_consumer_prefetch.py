"""The consumer loop with prefetch on: the same ledger as without it, whatever the seeks."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

from prometheus_client import CollectorRegistry

from procledger.adapters.memory import InMemoryLedgerStore
from procledger.ledger.loop import ConsumerTuning, LedgerConsumer
from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import KafkaRecord
from procledger.ledger.retry import RetryPolicy
from tests.unit.test_consumer_loop import FakeSource, Forwarded, _records

NOW = datetime(2024, 1, 1, tzinfo=UTC)


def _run(source: FakeSource, prefetch: bool, min_records: int = 1) -> InMemoryLedgerStore:
    store = InMemoryLedgerStore()
    tuning = ConsumerTuning(prefetch=prefetch, prefetch_min_records=min_records)
    consumer = LedgerConsumer(
        source, store, Forwarded(), ConsumerMetrics(CollectorRegistry()),
        retry=RetryPolicy(base_s=0.001, cap_s=0.002), tuning=tuning, clock=lambda: NOW,
    )  # fmt: skip
    try:
        while consumer.step():
            pass
        # A gap's seek can leave one empty step before the re-read records arrive.
        while consumer.step():
            pass
    finally:
        consumer.close()
    return store


def _ledger(store: InMemoryLedgerStore) -> tuple[object, ...]:
    tables = store.tables
    return (
        sorted((j.topic, j.partition, j.offset, j.event_id, j.hash) for j in tables.journal),
        sorted((r.topic, r.partition, r.offset, r.reason_code) for r in tables.rejections),
        store.positions(),
    )


def test_prefetch_writes_the_same_ledger_as_the_plain_loop() -> None:
    records = _records()
    plain = _run(FakeSource(records, size=7), prefetch=False)
    fetched = _run(FakeSource(records, size=7), prefetch=True)
    assert _ledger(fetched) == _ledger(plain)
    assert len(plain.tables.journal) + len(plain.tables.rejections) == len(records)


def test_a_gap_seeks_back_and_the_stale_prefetch_is_dropped() -> None:
    records = _records()
    source = FakeSource(records, size=7)
    source.new = set()  # no assignment seek: Kafka starts partition 1 past the ledger
    source.position[("orders", 1)] = 3
    store = _run(source, prefetch=True)
    # Exactly once: every offset of every partition in one place, none twice, none skipped.
    # (The story's events are spread over partitions round-robin, not by order, so a
    # different interleaving may decide some differently: only the accounting is compared.)
    tables = store.tables
    for tp, position in store.positions().items():
        offsets = sorted(
            [j.offset for j in tables.journal if (j.topic, j.partition) == tp]
            + [r.offset for r in tables.rejections if (r.topic, r.partition) == tp]
        )
        expected = [r.offset for r in records if (r.topic, r.partition) == tp]
        assert offsets == expected == list(range(position.next_offset))


class ThreadNoting(FakeSource):
    """Notes which thread ran each poll that returned records."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pollers: list[str] = []

    def poll(self, timeout_s: float, max_records: int) -> list[KafkaRecord]:
        out = super().poll(timeout_s, max_records)
        if out:
            self.pollers.append(threading.current_thread().name)
        return out


def test_the_next_poll_runs_ahead_only_after_a_batch_of_prefetch_min_records() -> None:
    small = ThreadNoting(_records(), size=7)
    caught_up = _run(small, prefetch=True, min_records=8)
    assert small.pollers and all(name == "MainThread" for name in small.pollers)
    full = ThreadNoting(_records(), size=7)
    behind = _run(full, prefetch=True, min_records=7)
    assert any(name.startswith("prefetch") for name in full.pollers)
    assert _ledger(caught_up) == _ledger(behind)
