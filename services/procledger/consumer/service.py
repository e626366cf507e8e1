"""The consumer loop: poll, apply each batch in one transaction, then mirror offsets to Kafka."""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from procledger.consumer.batch import (
    Item,
    build_batch,
    decode_record,
    fits_ledger,
    refuse_unstorable,
    state_keys,
    trim,
)
from procledger.consumer.dlq import DlqOutbox
from procledger.consumer.metrics import ConsumerMetrics
from procledger.consumer.ports import (
    BatchWrite,
    EventSource,
    KafkaRecord,
    LedgerStore,
    RejectForwarder,
    StalePosition,
    TopicPartition,
    iter_partitions,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Given offsets, the Kafka timestamps (Unix seconds) of the records found there; best effort.
HeadTimestamps = Callable[[Mapping[TopicPartition, int]], Mapping[TopicPartition, float]]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `conflict_limit` bounds retries of conflicts."""

    base_s: float = 0.2
    cap_s: float = 10.0
    conflict_limit: int = 10

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))


@dataclass(frozen=True, slots=True)
class ConsumerTuning:
    """Batch size and timings; `prefetch` polls and decodes the next batch in a helper thread
    while the current batch's transaction waits on PostgreSQL (the database work then runs
    on another core at the same time as this process's decoding)."""

    max_records: int = 5000
    poll_timeout_s: float = 0.5
    lag_interval_s: float = 5.0
    prefetch: bool = False


# A polled batch with each record decoded (decoding is the consumer's largest CPU cost).
Polled = tuple[list[KafkaRecord], list[Item]]


class LedgerConsumer:
    """Folds polled records into the ledger exactly once; positions live in the ledger."""

    def __init__(
        self,
        source: EventSource,
        store: LedgerStore,
        forwarder: RejectForwarder | None,
        metrics: ConsumerMetrics,
        *,
        unavailable: tuple[type[Exception], ...],
        conflicts: tuple[type[Exception], ...],
        tuning: ConsumerTuning = ConsumerTuning(),
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        head_timestamps: HeadTimestamps | None = None,
        dlq: DlqOutbox | None = None,
    ) -> None:
        self._source = source
        self._store = store
        # Without an outbox of the caller's, copies are sent once, best effort, never marked.
        self._dlq = dlq or DlqOutbox(forwarder, None, metrics)
        self._metrics = metrics
        self._unavailable = unavailable
        self._conflicts = conflicts
        self._tuning = tuning
        self._retry = retry
        self._clock = clock
        self._last_lag = 0.0
        self._head_timestamps = head_timestamps
        self._lag_labels: set[TopicPartition] = set()
        self.applied_batches = 0
        self._pool = ThreadPoolExecutor(1, "prefetch") if tuning.prefetch else None
        self._prefetched: Future[Polled] | None = None

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: a SIGTERM finishes the batch in hand, then returns."""
        try:
            while not stop.is_set():
                self.step(stop)
        finally:
            self.close()
        log.info("consumer stopping after %d batches", self.applied_batches)

    def close(self) -> None:
        """Wait for a prefetch in flight and drop its records (the ledger never saw them)."""
        self._drop_prefetched()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def step(self, stop: threading.Event | None = None) -> int:
        """One poll and its batch; returns the number of records polled."""
        if self._seek_new_assignments(stop):
            self._drop_prefetched()  # polled before the seek: from the wrong offsets
        if self._dlq.due():  # a crashed owner's or a failed send's copies, before new work
            self._dlq.drain(self._source.assigned())
        if self._prefetched is not None:
            records, items = self._prefetched.result()
            self._prefetched = None
        else:
            records, items = self._poll()
        if records:
            self._apply(records, items, stop)
        if time.monotonic() - self._last_lag > self._tuning.lag_interval_s:
            self._report_lag()
        return len(records)

    def _seek_new_assignments(self, stop: threading.Event | None) -> bool:
        """Seek newly assigned partitions to the ledger's positions; True if any was."""
        new = self._source.take_new_assignments()
        if not new:
            return False
        self._metrics.rebalances.inc()
        positions = self._with_retry(self._store.positions, stop)
        if positions is None:
            return False
        for tp in sorted(new):
            offset = positions[tp].next_offset if tp in positions else 0
            self._source.seek(tp, offset)
            log.info("partition %s-%d: resuming at ledger offset %d", tp[0], tp[1], offset)
        self._dlq.assigned()
        return True

    def _poll(self) -> Polled:
        records = self._source.poll(self._tuning.poll_timeout_s, self._tuning.max_records)
        return records, [decode_record(r) for r in records]  # decoded once, outside any tx

    def _drop_prefetched(self) -> None:
        if self._prefetched is not None:
            # Joined before anyone touches the source again (the Kafka client is not thread
            # safe); the records are dropped unapplied, and their offsets stay unconsumed
            # in the ledger, so the next poll after a seek delivers them again.
            self._prefetched.exception()
            self._prefetched = None

    def _apply(
        self, records: Sequence[KafkaRecord], items: list[Item], stop: threading.Event | None
    ) -> None:
        started = time.monotonic()
        # One pass over the batch (not one per partition): this runs for every record.
        for topic, count in Counter(r.topic for r in records).items():
            self._metrics.consumed.labels(topic).inc(count)
        partitions = set(iter_partitions(records))
        gaps: dict[tuple[str, int], int] = {}

        def transaction() -> BatchWrite | None:
            nonlocal gaps
            db_started = time.monotonic()
            with self._store.transaction() as tx:
                positions = tx.lock_positions(partitions)
                trimmed = trim(items, positions)
                gaps = trimmed.gaps
                if not trimmed.items:
                    return None
                orders, events, targets = state_keys(trimmed.items)
                state = tx.load_state(orders, events, targets)
                batch = build_batch(trimmed.items, state, positions, self._clock())
                if not fits_ledger(batch):  # an amount no column can hold: reject, not crash
                    kept = refuse_unstorable(trimmed.items, state)
                    batch = build_batch(kept, state, positions, self._clock())
                tx.write(batch)
            self._metrics.commit_duration.observe(time.monotonic() - db_started)
            return batch

        if self._pool is not None:
            # Only the helper thread uses the source until the join below. Whatever it polls
            # is applied through trim() against the positions locked then, like any batch.
            self._prefetched = self._pool.submit(self._poll)
        try:
            batch = self._with_retry(transaction, stop, give_up_on_stop=False)
        except StalePosition as err:
            self._drop_prefetched()
            self._metrics.fenced.inc()
            log.warning("batch rolled back: %s", err)
            self._resync()
            return
        except BaseException:
            self._drop_prefetched()
            raise
        if gaps:
            self._drop_prefetched()  # the seeks below make it stale
        elif self._prefetched is not None:
            self._prefetched.exception()  # joined: the source is this thread's again
        for tp, offset in gaps.items():
            log.warning("partition %s-%d: records start past offset %d; seeking back", *tp, offset)
            self._source.seek(tp, offset)
        if batch is None:
            return
        self.applied_batches += 1
        self._after_commit(batch, started)

    def _after_commit(self, batch: BatchWrite, started: float) -> None:
        self._source.commit({(u.topic, u.partition): u.new.next_offset for u in batch.positions})
        self._dlq.after_commit(batch.rejections)
        now = time.time()
        # Counted per type once per batch; the latency histogram needs every observation.
        for kind, count in Counter(entry.event_type for entry in batch.journal).items():
            self._metrics.applied.labels(kind).inc(count)
        observe = self._metrics.latency.observe
        for entry in batch.journal:
            if entry.kafka_timestamp is not None:
                observe(max(0.0, now - entry.kafka_timestamp.timestamp()))
        for rejection in batch.rejections:
            self._metrics.rejected.labels(
                rejection.event_type or "unknown", rejection.reason_code
            ).inc()
        for update in batch.positions:
            self._metrics.committed_offset.labels(update.topic, str(update.partition)).set(
                update.new.next_offset
            )
        self._metrics.batch_size.observe(len(batch.journal) + len(batch.rejections))
        self._metrics.batch_duration.observe(time.monotonic() - started)
        self._metrics.last_batch_time.set(now)

    def _resync(self) -> None:
        """After fencing: put every owned partition back where the ledger says it stands."""
        positions = self._store.positions()
        for tp in sorted(self._source.assigned()):
            self._source.seek(tp, positions[tp].next_offset if tp in positions else 0)

    def _with_retry(
        self,
        action: Callable[[], T],
        stop: threading.Event | None,
        give_up_on_stop: bool = True,
    ) -> T | None:
        """Retry transient failures with jittered backoff; never skip the work itself."""
        attempt = 0
        conflicts = 0
        while True:
            try:
                return action()
            except self._unavailable as err:
                kind = "unavailable"
                reason = " ".join(str(err).split())  # why, on one line: down, disk full, locks
                if give_up_on_stop and stop is not None and stop.is_set():
                    return None
                if stop is not None and stop.is_set() and attempt > 3:
                    # SIGTERM while the database is down: abort the batch; nothing was written.
                    log.warning("stopping with the batch unapplied: %s", err)
                    raise SystemExit(0) from err
            except self._conflicts as err:
                kind = "conflict"
                conflicts += 1
                if conflicts > self._retry.conflict_limit:
                    raise
                log.info("conflict, retrying: %s", err)
            self._metrics.retries.labels(kind).inc()
            delay = self._retry.delay(attempt)
            if kind == "unavailable":
                log.warning("database unavailable, retry %d in %.1fs: %s", attempt + 1, delay,
                            reason)  # fmt: skip
            attempt += 1
            time.sleep(delay)

    def _report_lag(self) -> None:
        self._last_lag = time.monotonic()
        try:
            ends = self._source.end_offsets()
            positions = self._store.positions()
        except Exception as err:  # lag is best effort; the loop goes on
            log.debug("lag not measured: %s", err)
            return
        nexts = {tp: positions[tp].next_offset if tp in positions else 0 for tp in ends}
        lagging = {tp: nexts[tp] for tp, end in ends.items() if end > nexts[tp]}
        heads = self._read_heads(lagging)
        now = time.time()
        for tp, end in ends.items():
            labels = (tp[0], str(tp[1]))
            self._metrics.lag_messages.labels(*labels).set(max(0, end - nexts[tp]))
            self._metrics.committed_offset.labels(*labels).set(nexts[tp])
            if tp not in lagging:
                self._metrics.lag_seconds.labels(*labels).set(0)
            elif tp in heads:
                self._metrics.lag_seconds.labels(*labels).set(max(0.0, now - heads[tp]))
            # A lagging partition whose head record could not be read keeps its last value.
        # Drop partitions this member no longer owns: another member reports them now, and a
        # stale series would be counted twice by a sum over the group.
        gauges = (self._metrics.lag_messages, self._metrics.lag_seconds,
                  self._metrics.committed_offset)  # fmt: skip
        for tp in self._lag_labels - set(ends):
            for gauge in gauges:
                with contextlib.suppress(KeyError):
                    gauge.remove(tp[0], str(tp[1]))
        self._lag_labels = set(ends)
        self._metrics.assigned_partitions.set(len(ends))

    def _read_heads(self, offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, float]:
        """Kafka timestamps of the oldest unapplied records (read only while a partition lags)."""
        if not offsets or self._head_timestamps is None:
            return {}
        try:
            return self._head_timestamps(offsets)
        except Exception as err:  # lag is best effort; the loop goes on
            log.debug("lag seconds not measured: %s", err)
            return {}
