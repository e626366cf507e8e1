"""The dead-letter outbox's bookkeeping against in-memory ports: sent, marked, sent again."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import UTC, datetime

import pytest
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.dlq import DLQ_ID_HEADER, dlq_headers
from procledger.ledger.dlq import DlqOutbox, key_of
from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import KafkaRecord, RecordKey, RejectionEntry, TopicPartition

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rejection(partition: int, offset: int, raw: bytes | None = None) -> RejectionEntry:
    return RejectionEntry(
        topic="orders", partition=partition, offset=offset, kafka_timestamp=None,
        event_id=None, event_type=None, order_id="PO-1", reason_code="UNKNOWN_ORDER",
        error="no such order", payload=None if raw else {"order_id": "PO-1"}, raw_value=raw,
        record_sha256=b"\0" * 32, recorded_at=T0,
    )  # fmt: skip


class Topic:
    """The DLQ topic: every copy it confirmed, in order; fails while `down`."""

    def __init__(self) -> None:
        self.copies: list[RejectionEntry] = []
        self.down = False

    def forward(self, rejections: Sequence[RejectionEntry]) -> None:
        if self.down:
            raise ConnectionError("broker unreachable")
        self.copies.extend(rejections)


class Ledger:
    """ledger.rejections and ledger.dlq_forwarded; `broken` fails the marks' writes."""

    def __init__(self, rejections: Sequence[RejectionEntry]) -> None:
        self.rejections = list(rejections)
        self.marked: set[RecordKey] = set()
        self.broken = False

    def mark_forwarded(self, keys: Collection[RecordKey]) -> None:
        if self.broken:
            raise ConnectionError("database unreachable")
        self.marked |= set(keys)

    def pending(
        self, partitions: Collection[TopicPartition], limit: int
    ) -> tuple[list[RejectionEntry], int]:
        owned = [r for r in self.rejections if (r.topic, r.partition) in partitions]
        left = [r for r in owned if key_of(r) not in self.marked]
        return left[:limit], len(left)


def originals(wanted: Mapping[TopicPartition, Collection[int]]) -> dict[RecordKey, KafkaRecord]:
    return {(t, p, o): KafkaRecord(t, p, o, None, b"PO-1", f"bytes {o}".encode(),
                                   (("event_type", b"OrderAmended"),))
            for (t, p), offsets in wanted.items() for o in offsets}  # fmt: skip


def pending(metrics: ConsumerMetrics) -> float:
    return float(next(iter(metrics.dlq_pending.collect())).samples[0].value)


def outbox(topic: Topic, ledger: Ledger, **kw: object) -> tuple[DlqOutbox, ConsumerMetrics]:
    metrics = ConsumerMetrics(CollectorRegistry())
    box = DlqOutbox(topic, ledger, metrics, originals=originals, retry_interval_s=0, **kw)  # type: ignore[arg-type]
    return box, metrics


def test_a_confirmed_copy_is_marked_and_not_sent_again() -> None:
    batch = [rejection(0, 3), rejection(1, 7)]
    topic, ledger = Topic(), Ledger(batch)
    box, _ = outbox(topic, ledger)
    box.after_commit(batch)
    assert ledger.marked == {("orders", 0, 3), ("orders", 1, 7)}
    box.assigned()
    box.drain({("orders", 0), ("orders", 1)})
    assert [key_of(r) for r in topic.copies] == [("orders", 0, 3), ("orders", 1, 7)]
    assert not box.due()


def test_a_crash_before_the_forward_is_repaired_by_the_next_owner() -> None:
    batch = [rejection(0, 3), rejection(0, 9, raw=b"\xc3\x01junk")]
    topic, ledger = Topic(), Ledger(batch)
    # The batch committed, then the process died: nothing sent, nothing marked.
    box, metrics = outbox(topic, ledger)
    box.assigned()
    assert box.due()
    box.drain({("orders", 0)})
    assert {key_of(r) for r in topic.copies} == {("orders", 0, 3), ("orders", 0, 9)}
    assert ledger.marked == {("orders", 0, 3), ("orders", 0, 9)}
    # The copy carries the original record's bytes and headers, as the first send would.
    first = topic.copies[0]
    assert first.record_value == b"bytes 3"
    assert ("event_type", b"OrderAmended") in first.headers
    assert pending(metrics) == 0
    assert not box.due()


def test_a_failed_send_stays_pending_until_the_broker_is_back() -> None:
    batch = [rejection(2, 1)]
    topic, ledger = Topic(), Ledger(batch)
    box, metrics = outbox(topic, ledger)
    topic.down = True
    box.after_commit(batch)
    assert pending(metrics) == 1 and box.due()
    box.drain({("orders", 2)})  # still down
    assert ledger.marked == set() and box.due()
    topic.down = False
    box.drain({("orders", 2)})
    assert ledger.marked == {("orders", 2, 1)} and not box.due()
    assert pending(metrics) == 0


def test_a_lost_mark_sends_the_copy_again_with_the_same_id() -> None:
    batch = [rejection(0, 4)]
    topic, ledger = Topic(), Ledger(batch)
    box, _ = outbox(topic, ledger)
    ledger.broken = True
    box.after_commit(batch)
    ledger.broken = False
    box.drain({("orders", 0)})
    ids = [dict(dlq_headers(r))[DLQ_ID_HEADER] for r in topic.copies]
    assert ids == [b"orders/0/4", b"orders/0/4"]  # a repeat, never a loss


def test_pending_copies_go_out_a_page_at_a_time() -> None:
    batch = [rejection(0, i) for i in range(25)]
    topic, ledger = Topic(), Ledger(batch)
    box, _ = outbox(topic, ledger, drain_limit=10)
    box.assigned()
    pages = 0
    while box.due():
        box.drain({("orders", 0)})
        pages += 1
    assert pages == 3
    assert sorted(o for _, _, o in ledger.marked) == list(range(25))


def test_only_the_owned_partitions_are_drained() -> None:
    topic, ledger = Topic(), Ledger([rejection(0, 1), rejection(1, 1)])
    box, _ = outbox(topic, ledger)
    box.assigned()
    box.drain({("orders", 1)})
    assert [key_of(r) for r in topic.copies] == [("orders", 1, 1)]


def test_the_fault_point_runs_between_commit_and_forward() -> None:
    topic, ledger = Topic(), Ledger([rejection(0, 1)])

    def crash() -> None:
        raise SystemExit("killed")

    box, _ = outbox(topic, ledger, before_forward=crash)
    with pytest.raises(SystemExit):
        box.after_commit(ledger.rejections)
    assert topic.copies == [] and ledger.marked == set()
    box.after_commit([])  # a batch without rejections never reaches the fault point


def test_unreadable_originals_are_tried_again_less_and_less_often(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [1000.0]
    monkeypatch.setattr("procledger.ledger.dlq.time.monotonic", lambda: now[0])
    batch = [rejection(0, 5)]
    topic, ledger = Topic(), Ledger(batch)
    readable = [False]

    def maybe(wanted: Mapping[TopicPartition, Collection[int]]) -> dict[RecordKey, KafkaRecord]:
        return originals(wanted) if readable[0] else {}  # e.g. deleted by retention

    metrics = ConsumerMetrics(CollectorRegistry())
    box = DlqOutbox(topic, ledger, metrics, originals=maybe, retry_interval_s=5.0)
    box.assigned()
    waits = []
    for _ in range(8):
        assert box.due()
        box.drain({("orders", 0)})
        assert topic.copies == [] and not box.due()
        start = now[0]
        while not box.due():
            now[0] += 1.0
        waits.append(now[0] - start)
    # Each failed read doubles the wait (a read may block the loop), up to five minutes.
    assert waits == [10, 20, 40, 80, 160, 300, 300, 300]
    readable[0] = True
    box.drain({("orders", 0)})
    assert [key_of(r) for r in topic.copies] == [("orders", 0, 5)] and not box.due()
