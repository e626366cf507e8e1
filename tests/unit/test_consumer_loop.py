"""The consumer loop and batch planner against in-memory ports (no servers)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from procledger.adapters.memory import InMemoryLedgerStore
from procledger.codec.avro import encode
from procledger.domain.chain import GENESIS
from procledger.domain.events import OrderPlaced
from procledger.ledger.batch import Decoded, RefusedRecord, decode_record, trim
from procledger.ledger.loop import LedgerConsumer, StopRequested
from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import (
    KafkaRecord,
    LedgerTransaction,
    Position,
    RejectionEntry,
    SealedPast,
    StoreConflict,
    StoreError,
    StoreUnavailable,
    TopicPartition,
)
from procledger.ledger.retry import RetryPolicy
from procledger.scenario.story import story_events
from tests.unit.event_samples import CANCELLED

TOPIC = "orders"


class FakeSource:
    """Hands out records in polls of `size`; everything is assigned from the start."""

    def __init__(self, records: Sequence[KafkaRecord], size: int = 50) -> None:
        self.records = list(records)
        self.size = size
        self.position: dict[TopicPartition, int] = {}
        self.committed: dict[TopicPartition, int] = {}
        self.new = {(r.topic, r.partition) for r in records}

    def poll(self, timeout_s: float, max_records: int) -> list[KafkaRecord]:
        out: list[KafkaRecord] = []
        for r in self.records:
            tp = (r.topic, r.partition)
            if r.offset >= self.position.get(tp, 0) and len(out) < self.size:
                out.append(r)
        for r in out:
            self.position[(r.topic, r.partition)] = r.offset + 1
        return out

    def assigned(self) -> set[TopicPartition]:
        return {(r.topic, r.partition) for r in self.records}

    def take_new_assignments(self) -> set[TopicPartition]:
        new, self.new = self.new, set()
        return new

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.position[partition] = offset

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self.committed.update(offsets)

    def end_offsets(self) -> dict[TopicPartition, int]:
        return {tp: max(r.offset for r in self.records if (r.topic, r.partition) == tp) + 1
                for tp in self.assigned()}  # fmt: skip

    def close(self) -> None:
        pass


class FlakyStore:
    """Fails the first `failures` transactions with `error`, then behaves."""

    def __init__(
        self, inner: InMemoryLedgerStore, failures: int, error: StoreError | None = None
    ) -> None:
        self.inner = inner
        self.failures = failures
        self.error = error or StoreUnavailable("connection lost")

    @contextmanager
    def _tx(self) -> Iterator[LedgerTransaction]:
        if self.failures:
            self.failures -= 1
            raise self.error
        with self.inner.transaction() as tx:
            yield tx

    def transaction(self) -> AbstractContextManager[LedgerTransaction]:
        return self._tx()

    def positions(self) -> dict[TopicPartition, Position]:
        return self.inner.positions()


class Forwarded:
    def __init__(self) -> None:
        self.rejections: list[RejectionEntry] = []

    def forward(self, rejections: Sequence[RejectionEntry]) -> None:
        self.rejections.extend(rejections)


def _records() -> list[KafkaRecord]:
    events = story_events()
    records = [
        KafkaRecord(TOPIC, i % 3, i // 3, 1_700_000_000_000, None, encode(e))
        for i, e in enumerate(events)
    ]
    # One undecodable record at the end of partition 0.
    last = max(r.offset for r in records if r.partition == 0)
    return [*records, KafkaRecord(TOPIC, 0, last + 1, None, None, b"not avro")]


def _consumer(source: FakeSource, store: object, forwarder: Forwarded) -> LedgerConsumer:
    return LedgerConsumer(
        source, store, forwarder, ConsumerMetrics(CollectorRegistry()),  # type: ignore[arg-type]
        retry=RetryPolicy(base_s=0.001, cap_s=0.002),
    )  # fmt: skip


def test_loop_applies_everything_once_and_forwards_rejections() -> None:
    records = _records()
    source, store, forwarded = FakeSource(records), InMemoryLedgerStore(), Forwarded()
    consumer = _consumer(source, store, forwarded)
    while consumer.step():
        pass
    tables = store.tables
    assert len(tables.journal) == len(records) - 1
    assert [r.reason_code for r in tables.rejections] == ["UNDECODABLE"]
    assert [r.offset for r in forwarded.rejections] == [tables.rejections[0].offset]
    assert source.committed == {tp: p.next_offset for tp, p in store.positions().items()}
    # Each partition's chain links every row to the one before it.
    for partition in range(3):
        rows = [j for j in tables.journal if j.partition == partition]
        assert rows[0].prev_hash == GENESIS
        assert all(b.prev_hash == a.hash for a, b in itertools.pairwise(rows))


def test_transient_failures_are_retried_without_losing_a_record() -> None:
    records = _records()
    inner = InMemoryLedgerStore()
    consumer = _consumer(FakeSource(records), FlakyStore(inner, failures=3), Forwarded())
    while consumer.step(threading.Event()):
        pass
    assert len(inner.tables.journal) + len(inner.tables.rejections) == len(records)


def test_a_batch_behind_checkpoint_seals_is_retried_past_the_conflict_limit() -> None:
    """A seal refusal is no conflict: each retry takes a new clock and never gives up, where
    as many real conflicts stop the consumer."""
    records = _records()
    sealed = FlakyStore(InMemoryLedgerStore(), failures=25, error=SealedPast("sealed"))
    clocks: list[datetime] = []

    def clock() -> datetime:
        clocks.append(datetime.now(UTC))
        return clocks[-1]

    consumer = LedgerConsumer(
        FakeSource(records), sealed, Forwarded(), ConsumerMetrics(CollectorRegistry()),
        retry=RetryPolicy(base_s=0.001, cap_s=0.002), clock=clock,
    )  # fmt: skip
    while consumer.step(threading.Event()):
        pass
    tables = sealed.inner.tables
    assert len(tables.journal) + len(tables.rejections) == len(records)
    assert len(clocks) > 25, "one clock per attempt"
    conflicted = FlakyStore(InMemoryLedgerStore(), failures=25, error=StoreConflict("deadlock"))
    consumer = _consumer(FakeSource(records), conflicted, Forwarded())
    with pytest.raises(StoreConflict, match="deadlock"):
        consumer.step(threading.Event())


def test_seal_refusals_after_the_first_back_off_and_end_on_a_stop(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Refused again and again (a clock behind the database's), the batch waits between
    attempts instead of spinning on the database, and a stop request ends the wait with
    nothing written."""
    sleeps: list[float] = []
    store = FlakyStore(InMemoryLedgerStore(), failures=10**6, error=SealedPast("sealed"))
    stop = threading.Event()
    consumer = _consumer(FakeSource(_records()), store, Forwarded())

    def count_then_stop(delay: float) -> None:
        sleeps.append(delay)
        if len(sleeps) == 8:
            stop.set()

    monkeypatch.setattr(time, "sleep", count_then_stop)  # the loop's backoff
    with pytest.raises(StopRequested):
        consumer.step(stop)
    # The first refusal is retried at once, every later one after a backoff; the refusal
    # after the stop (past the batch's patience of 4 retries) ends it.
    assert len(sleeps) == 8 and all(0 <= d <= 0.002 for d in sleeps)
    assert 10**6 - store.failures == 1 + 8 + 1
    assert len(store.inner.tables.journal) + len(store.inner.tables.rejections) == 0


def test_trim_drops_replays_and_reports_a_gap() -> None:
    items = [decode_record(r) for r in _records() if r.partition == 1]
    positions = {(TOPIC, 1): Position(5, GENESIS)}
    kept = trim(items, positions)
    assert [i.record.offset for i in kept.items][:2] == [5, 6]
    ahead = trim(items[10:], positions)
    assert ahead.items == [] and ahead.gaps == {(TOPIC, 1): 5}


def test_a_partition_fetched_past_the_ledger_is_sought_back_and_every_offset_accounted() -> None:
    records = _records()
    source = FakeSource(records, size=7)
    source.new = set()  # no assignment seek: Kafka starts partition 1 past the ledger
    source.position[(TOPIC, 1)] = 3
    store = InMemoryLedgerStore()
    consumer = _consumer(source, store, Forwarded())
    while consumer.step():
        pass
    # A gap's seek can leave one empty step before the re-read records arrive.
    while consumer.step():
        pass
    # Exactly once: every offset of every partition in one place, none twice, none skipped.
    tables = store.tables
    for tp, position in store.positions().items():
        offsets = sorted(
            [j.offset for j in tables.journal if (j.topic, j.partition) == tp]
            + [r.offset for r in tables.rejections if (r.topic, r.partition) == tp]
        )
        expected = [r.offset for r in records if (r.topic, r.partition) == tp]
        assert offsets == expected == list(range(position.next_offset))


def test_records_that_postgres_cannot_store_are_rejected_safely() -> None:
    bad = replace(CANCELLED, reason="nul \x00 inside")
    item = decode_record(KafkaRecord(TOPIC, 0, 0, None, None, encode(bad)))
    assert isinstance(item, RefusedRecord) and item.reason_code == "INVALID_EVENT"
    store = InMemoryLedgerStore()
    source = FakeSource([item.record])
    _consumer(source, store, Forwarded()).step()
    rejection = store.tables.rejections[0]
    assert rejection.payload is None and rejection.raw_value == item.record.value
    assert "\x00" not in rejection.error


def test_decoded_records_are_decoded_once() -> None:
    item = decode_record(_records()[0])
    assert isinstance(item, Decoded)
    assert item.decoded.payload["event_id"] == item.decoded.event.event_id


@pytest.mark.parametrize("value", [None, b""])
def test_empty_values_are_undecodable(value: bytes | None) -> None:
    item = decode_record(KafkaRecord(TOPIC, 0, 0, None, None, value))
    assert isinstance(item, RefusedRecord) and item.reason_code == "UNDECODABLE"


@pytest.mark.parametrize("poll_size", [1, 50], ids=["across-batches", "one-batch"])
def test_a_repeated_event_id_is_a_redelivery_or_a_conflict_by_content(poll_size: int) -> None:
    """Same type and payload under other coordinates, timestamp and headers: REDELIVERED,
    acknowledged, not forwarded, not a rejection metric; a changed payload or type under the
    same id: EVENT_ID_CONFLICT, forwarded and counted."""
    first, second = story_events()[:2]
    assert isinstance(first, OrderPlaced)
    changed = replace(first, quantity=first.quantity + 1)
    other_type = replace(CANCELLED, event_id=second.event_id)
    values = [first, second, first, changed, other_type, first]
    retried = (("source_system", b"retry"),)
    records = [
        KafkaRecord(TOPIC, 0, i, 1_700_000_000_000 + i, None, encode(e), retried * (i % 2))
        for i, e in enumerate(values)
    ]
    store, forwarded, registry = InMemoryLedgerStore(), Forwarded(), CollectorRegistry()
    consumer = LedgerConsumer(
        FakeSource(records, size=poll_size), store, forwarded,
        ConsumerMetrics(registry, ["OrderPlaced"]),
    )  # fmt: skip
    while consumer.step():
        pass
    codes = [(r.offset, r.reason_code) for r in store.tables.rejections]
    assert codes == [(2, "REDELIVERED"), (3, "EVENT_ID_CONFLICT"), (4, "EVENT_ID_CONFLICT"),
                     (5, "REDELIVERED")]  # fmt: skip
    assert "different payload" in store.tables.rejections[1].error
    assert "different type" in store.tables.rejections[2].error
    assert [j.offset for j in store.tables.journal] == [0, 1]
    assert [r.offset for r in forwarded.rejections] == [3, 4]
    sample = registry.get_sample_value
    placed = {"event_type": "OrderPlaced"}
    assert sample("procledger_consumer_events_redelivered_total", placed) == 2
    rejected = {"event_type": "OrderPlaced", "reason": "REDELIVERED"}
    assert sample("procledger_consumer_events_rejected_total", rejected) is None
    conflict = {"event_type": "OrderPlaced", "reason": "EVENT_ID_CONFLICT"}
    assert sample("procledger_consumer_events_rejected_total", conflict) == 1


class AssignedDuringPoll(FakeSource):
    """As kafka-python does: the group assigns partitions inside the first poll, and that poll
    already returns records, fetched from Kafka's committed offsets (here: from 0)."""

    def __init__(self, records: Sequence[KafkaRecord]) -> None:
        super().__init__(records)
        self.pending = self.new
        self.new = set()

    def poll(self, timeout_s: float, max_records: int) -> list[KafkaRecord]:
        self.new, self.pending = self.new | self.pending, set()
        return super().poll(timeout_s, max_records)


def test_resuming_is_logged_before_anything_of_the_partition_is_applied(
    caplog: pytest.LogCaptureFixture,
) -> None:
    records = _records()
    store = InMemoryLedgerStore()
    first = _consumer(FakeSource(records[:30]), store, Forwarded())
    while first.step():
        pass
    resume_at = store.positions()[(TOPIC, 0)].next_offset
    assert resume_at > 0
    caplog.set_level("INFO", logger="procledger.ledger.loop")
    caplog.clear()  # only the second consumer's lines (an earlier test may leave INFO on)
    source = AssignedDuringPoll(records)
    second = _consumer(source, store, Forwarded())
    applied_before: list[int] = []
    while second.step():
        if not applied_before:
            applied_before.append(second.applied_batches)
    resumed = [r for r in caplog.records if "partition orders-0: resuming" in r.getMessage()]
    assert resumed[0].getMessage().endswith(f"resuming at ledger offset {resume_at}")
    assert applied_before == [0], "the poll that brought the assignment applied nothing"
    assert len(store.tables.journal) + len(store.tables.rejections) == len(records)


def test_progress_is_logged_while_work_flows_and_not_while_idle(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from procledger.ledger.progress import ProgressLog  # noqa: PLC0415

    now = [0.0]
    progress = ProgressLog(30.0, clock=lambda: now[0])
    caplog.set_level("INFO", logger="procledger.ledger.progress")
    progress.batch(500, 2)
    now[0] = 31.0
    progress.lag(1234)
    progress.batch(500, 0)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1
    assert "applied 1,000, rejected 2 in the last 31s (32 records/s)" in lines[0]
    assert "lag 1,234 messages" in lines[0]
    progress.lag(0)
    now[0] = 100.0
    progress.maybe_log()  # nothing applied since, no lag: an idle consumer is quiet
    assert len(caplog.records) == 1
