"""Lag per owned partition, in messages and seconds, and whether Kafka answered for it."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import LedgerStore, TopicPartition
from procledger.probes import OutageLog

log = logging.getLogger("procledger.ledger.loop")

# Given offsets, the Kafka timestamps (Unix seconds) of the records found there; best effort.
HeadTimestamps = Callable[[Mapping[TopicPartition, int]], Mapping[TopicPartition, float]]


class EndOffsets(Protocol):
    def end_offsets(self) -> dict[TopicPartition, int]:
        """The next offset to be written in each owned partition (asks the brokers)."""
        ...


class LagReporter:
    """Kafka end offsets against the ledger's positions, for the partitions this member owns.

    Asking Kafka for end offsets is also the consumer's cheap check that the cluster answers:
    procledger_consumer_kafka_up, and one log line when it stops answering and one when it is
    back (kafka-python's own lines repeat every few seconds and name no consequence).
    """

    def __init__(
        self,
        source: EndOffsets,
        store: LedgerStore,
        metrics: ConsumerMetrics,
        head_timestamps: HeadTimestamps | None = None,
        outage: OutageLog | None = None,
    ) -> None:
        self._source = source
        self._store = store
        self._metrics = metrics
        self._head_timestamps = head_timestamps
        self._lag_labels: set[TopicPartition] = set()
        # Shared with the consumer's broker probe and its polls: one outage, one story.
        self._kafka_outage = outage or OutageLog("Kafka", log)

    def unreachable(self, reason: str) -> None:
        """A poll could not reach the brokers: the same outage a failed lag check sees."""
        self._metrics.kafka_up.set(0)
        self._kafka_outage.failed(reason)

    def report(self) -> int | None:
        """Measure and export lag; the total in messages, or None if Kafka was not reached."""
        try:
            ends = self._source.end_offsets()
        except Exception as err:  # lag is best effort; the loop goes on
            self._metrics.kafka_up.set(0)
            self._kafka_outage.failed(f"{type(err).__name__}: {err}")
            return None
        if ends:  # with no partition owned, no broker was asked
            self._metrics.kafka_up.set(1)
            self._kafka_outage.recovered()
        try:
            positions = self._store.positions()
        except Exception as err:  # lag is best effort; the loop goes on
            log.debug("lag not measured: %s", err)
            return None
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
        gauges = (
            self._metrics.lag_messages,
            self._metrics.lag_seconds,
            self._metrics.committed_offset,
        )
        for tp in self._lag_labels - set(ends):
            for gauge in gauges:
                with contextlib.suppress(KeyError):
                    gauge.remove(tp[0], str(tp[1]))
        self._lag_labels = set(ends)
        self._metrics.assigned_partitions.set(len(ends))
        return sum(max(0, end - nexts[tp]) for tp, end in ends.items())

    def _read_heads(self, offsets: Mapping[TopicPartition, int]) -> Mapping[TopicPartition, float]:
        """Kafka timestamps of the oldest unapplied records (read only while a partition lags)."""
        if not offsets or self._head_timestamps is None:
            return {}
        try:
            return self._head_timestamps(offsets)
        except Exception as err:  # lag is best effort; the loop goes on
            log.debug("lag seconds not measured: %s", err)
            return {}
