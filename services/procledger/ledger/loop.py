"""The consumer loop: poll, apply each batch in one transaction, then mirror offsets to Kafka."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TypeVar

from procledger.ledger.apply import AppliedBatch, apply_batch
from procledger.ledger.batch import decode_record
from procledger.ledger.dlq import DlqOutbox
from procledger.ledger.lag import HeadTimestamps, LagReporter
from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import (
    BatchWrite,
    EventSource,
    KafkaRecord,
    LedgerStore,
    RejectForwarder,
    SealedPast,
    SourceUnavailable,
    StalePosition,
    StoreConflict,
    StoreUnavailable,
    TopicPartition,
    iter_partitions,
)
from procledger.ledger.progress import ProgressLog
from procledger.ledger.retry import RetryPolicy
from procledger.probes import OutageLog

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class ConsumerTuning:
    """Batch size and timings."""

    max_records: int = 5000
    poll_timeout_s: float = 0.5
    lag_interval_s: float = 5.0
    progress_interval_s: float = 30.0


class StopRequested(Exception):
    """Asked to stop while the database stayed unavailable or kept refusing the batch's record
    time: the batch in hand is not applied."""


class LedgerConsumer:
    """Folds polled records into the ledger exactly once; positions live in the ledger."""

    def __init__(
        self,
        source: EventSource,
        store: LedgerStore,
        forwarder: RejectForwarder | None,
        metrics: ConsumerMetrics,
        *,
        tuning: ConsumerTuning = ConsumerTuning(),
        retry: RetryPolicy = RetryPolicy(),
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        head_timestamps: HeadTimestamps | None = None,
        dlq: DlqOutbox | None = None,
        kafka_outage: OutageLog | None = None,
    ) -> None:
        self._source = source
        self._store = store
        # Without an outbox of the caller's, copies are sent once, best effort, never marked.
        self._dlq = dlq or DlqOutbox(forwarder, None, metrics)
        self._metrics = metrics
        self._tuning = tuning
        self._retry = retry
        self._clock = clock
        self._last_lag = 0.0
        self._lag = LagReporter(self._source, store, metrics, head_timestamps, kafka_outage)
        self.applied_batches = 0
        self.progress = ProgressLog(tuning.progress_interval_s)

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set: a SIGTERM finishes the batch in hand, then returns."""
        try:
            while not stop.is_set():
                self.step(stop)
        except StopRequested as err:
            log.warning("stopping before the batch in hand was applied: %s", err.__cause__)
        log.info("consumer stopping after %d batches", self.applied_batches)

    def step(self, stop: threading.Event | None = None) -> int:
        """One poll and its batch; returns the number of records polled."""
        self._seek_new_assignments(stop)
        if self._dlq.due():  # a crashed owner's or a failed send's copies, before new work
            self._dlq.drain(self._source.assigned())
        records = self._poll()
        polled = len(records)
        # Partitions assigned during that very poll came with records from Kafka's committed
        # offsets: seek them to the ledger's first, so "resuming at" is logged before anything
        # of theirs is applied; their records are fetched again from there.
        sought = self._seek_new_assignments(stop)
        if sought and records:
            records = [r for r in records if (r.topic, r.partition) not in sought]
        if records:
            self._apply(records, stop)
        if time.monotonic() - self._last_lag > self._tuning.lag_interval_s:
            self._last_lag = time.monotonic()
            lag = self._lag.report()
            if lag is not None:
                self.progress.lag(lag)
        self.progress.maybe_log()
        return polled

    def _seek_new_assignments(self, stop: threading.Event | None) -> set[TopicPartition]:
        """Seek newly assigned partitions to the ledger's positions; those sought."""
        new = self._source.take_new_assignments()
        if not new:
            return set()
        self._metrics.rebalances.inc()
        positions = self._with_retry(self._store.positions, stop, patience=0)
        for tp in sorted(new):
            offset = positions[tp].next_offset if tp in positions else 0
            self._source.seek(tp, offset)
            log.info("partition %s-%d: resuming at ledger offset %d", tp[0], tp[1], offset)
        self._dlq.assigned()
        return new

    def _poll(self) -> Sequence[KafkaRecord]:
        try:
            return self._source.poll(self._tuning.poll_timeout_s, self._tuning.max_records)
        except SourceUnavailable as err:
            # The brokers are out (a restart): nothing polled, nothing lost; the client
            # reconnects by itself. Waited like an empty poll, so the loop does not spin.
            self._metrics.retries.labels("kafka").inc()
            self._lag.unreachable(str(err))
            time.sleep(self._tuning.poll_timeout_s)
            return []

    def _apply(self, records: Sequence[KafkaRecord], stop: threading.Event | None) -> None:
        started = time.monotonic()
        items = [decode_record(r) for r in records]  # once, outside the transaction's retries
        # One pass over the batch (not one per partition): this runs for every record.
        for topic, count in Counter(r.topic for r in records).items():
            self._metrics.consumed.labels(topic).inc(count)
        partitions = set(iter_partitions(records))

        def transaction() -> AppliedBatch:
            db_started = time.monotonic()
            applied = apply_batch(self._store, items, partitions, self._clock())
            if applied.write is not None:
                self._metrics.commit_duration.observe(time.monotonic() - db_started)
            return applied

        try:
            applied = self._with_retry(transaction, stop, patience=4)
        except StalePosition as err:
            self._metrics.fenced.inc()
            log.warning("batch rolled back: %s", err)
            self._resync()
            return
        for tp, offset in applied.gaps.items():
            log.warning("partition %s-%d: records start past offset %d; seeking back", *tp, offset)
            self._source.seek(tp, offset)
        if applied.write is None:
            return
        self.applied_batches += 1
        self._after_commit(applied.write, started)

    def _after_commit(self, batch: BatchWrite, started: float) -> None:
        self._source.commit({(u.topic, u.partition): u.new.next_offset for u in batch.positions})
        # Re-deliveries are acknowledged, never dead-lettered (BatchWrite.dead_letters).
        self._dlq.after_commit(batch.dead_letters)
        now = time.time()
        # Counted per type, and the latency per Kafka timestamp (events published together
        # share their millisecond), once per batch.
        for kind, count in Counter(entry.event_type for entry in batch.journal).items():
            self._metrics.applied.labels(kind).inc(count)
        for stamp, count in Counter(entry.kafka_timestamp for entry in batch.journal).items():
            if stamp is not None:
                self._metrics.latency.observe(max(0.0, now - stamp.timestamp()), count)
        for rejection in batch.dead_letters:
            self._metrics.rejected.labels(
                rejection.event_type or "unknown", rejection.reason_code
            ).inc()
        for repeat in batch.redelivered:
            self._metrics.redelivered.labels(repeat.event_type or "unknown").inc()
        for update in batch.positions:
            self._metrics.committed_offset.labels(update.topic, str(update.partition)).set(
                update.new.next_offset
            )
        self._metrics.batch_size.observe(len(batch.journal) + len(batch.rejections))
        self._metrics.batch_duration.observe(time.monotonic() - started)
        self._metrics.last_batch_time.set(now)
        self.progress.batch(len(batch.journal), len(batch.rejections))

    def _resync(self) -> None:
        """After fencing: put every owned partition back where the ledger says it stands."""
        positions = self._store.positions()
        for tp in sorted(self._source.assigned()):
            self._source.seek(tp, positions[tp].next_offset if tp in positions else 0)

    def _with_retry(
        self,
        action: Callable[[], T],
        stop: threading.Event | None,
        *,
        patience: int,
    ) -> T:
        """Retry transient failures with jittered backoff; never skip the work itself.

        Once `stop` is set, an outage, or seal refusals, that lasted `patience` retries raise
        StopRequested.
        """
        attempt = 0
        conflicts = 0
        sealed = 0
        while True:
            try:
                return action()
            except StoreUnavailable as err:
                kind = "unavailable"
                reason = " ".join(str(err).split())  # why, on one line: down, disk full, locks
                if stop is not None and stop.is_set() and attempt >= patience:
                    # SIGTERM while the database is down: nothing of this batch was written.
                    raise StopRequested from err
            except SealedPast as err:
                # A checkpoint sealed past this batch's clock: the retry takes a new one, at
                # once the first time. A seal is never past the database's clock, so only
                # another seal or a clock of ours behind the database's refuses it again: then
                # back off (a skewed clock must not spin on the database), and a stop ends it.
                kind = "conflict"
                sealed += 1
                if sealed == 1:
                    self._metrics.retries.labels(kind).inc()
                    log.info("%s; retrying with a new record time", err)
                    continue
                if stop is not None and stop.is_set() and attempt >= patience:
                    raise StopRequested from err
                log.warning(
                    "%s (refused %d times: is this host's clock behind the database's?)",
                    err,
                    sealed,
                )
            except StoreConflict as err:
                kind = "conflict"
                conflicts += 1
                if conflicts > self._retry.conflict_limit:
                    raise
                log.info("conflict, retrying: %s", err)
            self._metrics.retries.labels(kind).inc()
            delay = self._retry.delay(attempt)
            if kind == "unavailable":
                # The first retry of an outage says why at WARNING (down, out of disk space,
                # locks held); the rest only at DEBUG (the store probe logs the outage and its
                # end once, see entrypoints.consumer_service).
                level = logging.WARNING if attempt == 0 else logging.DEBUG
                log.log(
                    level, "database unavailable, retry %d in %.1fs: %s", attempt + 1, delay, reason
                )
            attempt += 1
            time.sleep(delay)
