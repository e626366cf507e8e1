"""The dead-letter outbox: every rejection's copy reaches the DLQ topic at least once."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable, Collection, Mapping, Sequence

from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import (
    DlqLog,
    KafkaRecord,
    RecordKey,
    RejectForwarder,
    RejectionEntry,
    TopicPartition,
)

log = logging.getLogger(__name__)

# The longest wait between drains while some original records cannot be read.
MAX_DRAIN_BACKOFF_S = 300.0

# Given offsets per partition, the original records found there (missing if unreadable).
Originals = Callable[[Mapping[TopicPartition, Collection[int]]], Mapping[RecordKey, KafkaRecord]]


def key_of(rejection: RejectionEntry) -> RecordKey:
    return (rejection.topic, rejection.partition, rejection.offset)


class DlqOutbox:
    """Forwards a batch's rejections after its commit, then marks them in the ledger.

    The rejections are committed with their batch; a crash, a failed send or a failed mark
    leaves them unmarked, and whoever owns the partition next (this member after a retry
    interval, or another after a rebalance or restart) reads the unmarked ones back from
    the ledger and their original records from Kafka, and sends them again. A copy can
    therefore arrive twice (sent, then the mark lost), never zero times; its
    `procledger.dlq.id` header names the original record so readers can drop repeats.
    Without a `dlq_log` (in-process tests) copies are sent once, best effort, and not marked.
    """

    def __init__(
        self,
        forwarder: RejectForwarder | None,
        dlq_log: DlqLog | None,
        metrics: ConsumerMetrics,
        *,
        originals: Originals | None = None,
        before_forward: Callable[[], None] | None = None,
        drain_limit: int = 1000,
        retry_interval_s: float = 5.0,
    ) -> None:
        self._forwarder = forwarder
        self._log = dlq_log
        self._metrics = metrics
        self._originals = originals
        self._before_forward = before_forward
        self._limit = drain_limit
        self._interval = retry_interval_s
        self._due: float | None = None  # monotonic time of the next drain; None: nothing to do
        self._misses = 0  # drains in a row that could not read every original record

    def after_commit(self, rejections: Sequence[RejectionEntry]) -> None:
        """Send the committed batch's rejections; on any failure leave them for a drain."""
        if self._forwarder is None or not rejections:
            return
        if self._before_forward is not None:
            self._before_forward()  # a fault point for tests: the crash this class survives
        if not self._send(rejections):
            self._metrics.dlq_pending.inc(len(rejections))

    def assigned(self) -> None:
        """New partitions: their unmarked rejections (a crashed owner's) go out now."""
        if self._log is not None and self._forwarder is not None:
            self._due = 0.0

    def due(self) -> bool:
        return self._due is not None and time.monotonic() >= self._due

    def drain(self, owned: Collection[TopicPartition]) -> None:
        """Send up to `drain_limit` unmarked rejections of `owned`; again later if any remain."""
        if self._log is None or self._forwarder is None:
            return
        self._due = time.monotonic() + self._interval  # whatever happens below, not before
        try:
            pending, total = self._log.pending(owned, self._limit)
        except Exception as err:  # the ledger keeps them; the next drain reads them again
            log.warning("dead-letter copies: cannot read the pending ones: %s", err)
            return
        self._metrics.dlq_pending.set(total)
        if not pending:
            self._due = None
            return
        log.info(
            "dead-letter copies: %d rejection(s) not confirmed on the DLQ; sending %d again",
            total,
            len(pending),
        )
        ready = self._with_originals(pending)
        if len(ready) < len(pending):
            # Reading originals blocks the loop up to the reader's timeout; records that stay
            # unreadable (deleted by retention) must not cost that every few seconds.
            self._misses += 1
            backoff = min(self._interval * 2**self._misses, MAX_DRAIN_BACKOFF_S)
            self._due = time.monotonic() + backoff
        else:
            self._misses = 0
        if ready and self._send(ready):
            left = total - len(ready)
            self._metrics.dlq_pending.set(left)
            log.info("dead-letter copies: sent %d again, %d left", len(ready), left)
            if left == 0:
                self._due = None
            elif len(ready) == len(pending):
                self._due = 0.0  # the next page at once

    def _with_originals(self, pending: Sequence[RejectionEntry]) -> list[RejectionEntry]:
        """The rejections with their original record's bytes and headers, as first sent."""
        wanted: dict[TopicPartition, set[int]] = {}
        for r in pending:
            wanted.setdefault((r.topic, r.partition), set()).add(r.offset)
        try:
            found = self._originals(wanted) if self._originals is not None else {}
        except Exception as err:  # retried at the next drain
            log.warning("dead-letter copies: cannot read the original records: %s", err)
            return []
        ready: list[RejectionEntry] = []
        for r in pending:
            original = found.get(key_of(r))
            if original is not None:
                ready.append(
                    dataclasses.replace(r, record_value=original.value, headers=original.headers)
                )
            elif r.raw_value is not None:  # undecodable: the ledger kept the bytes themselves
                ready.append(dataclasses.replace(r, record_value=r.raw_value))
        if len(ready) < len(pending):
            log.warning(
                "dead-letter copies: %d original record(s) not readable from Kafka "
                "yet; they stay pending",
                len(pending) - len(ready),
            )
        return ready

    def _send(self, rejections: Sequence[RejectionEntry]) -> bool:
        assert self._forwarder is not None
        try:
            self._forwarder.forward(rejections)
        except Exception:  # the rejections table holds them; a later drain sends them
            self._metrics.dlq_failures.inc()
            log.exception("could not forward %d rejections to the DLQ; will retry", len(rejections))
            self._retry_later()
            return False
        self._metrics.dlq_forwarded.inc(len(rejections))
        if self._log is None:
            return True
        try:
            self._log.mark_forwarded([key_of(r) for r in rejections])
        except Exception as err:  # sent but not marked: sent again later, a repeat
            log.warning(
                "forwarded %d rejections to the DLQ but could not record it (%s); "
                "they will be sent again",
                len(rejections),
                err,
            )
            self._retry_later()
            return False
        return True

    def _retry_later(self) -> None:
        if self._log is not None and self._due is None:
            self._due = time.monotonic() + self._interval
