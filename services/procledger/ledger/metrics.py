"""The ledger consumer's Prometheus metrics, defined once and bound to a given registry."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from procledger.probes import Refresher

# Latency from a record's Kafka timestamp to the ledger commit: 1 ms up to 5 minutes.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                   60, 120, 300)  # fmt: skip
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000)
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RETRY_KINDS = ("unavailable", "conflict")


class ConsumerMetrics:
    """The ledger consumer's metrics (prefix procledger_consumer_).

    Counters whose labels are known in advance start at zero, so that `increase()` sees the
    first event and alerts on "no events" have a series to compare instead of none.
    """

    def __init__(self, registry: CollectorRegistry, event_types: Iterable[str] = ()) -> None:
        p = "procledger_consumer_"
        self.consumed = Counter(
            p + "events_consumed", "Records polled from Kafka, by topic", ["topic"],
            registry=registry,
        )  # fmt: skip
        self.applied = Counter(
            p + "events_applied", "Events appended to the journal, by event type",
            ["event_type"], registry=registry,
        )  # fmt: skip
        self.rejected = Counter(
            p + "events_rejected", "Records rejected, by event type and reason code",
            ["event_type", "reason"], registry=registry,
        )  # fmt: skip
        self.redelivered = Counter(
            p + "events_redelivered",
            "Records repeating an event already in the journal with the same content (a "
            "producer retry or a re-sent request): acknowledged, not applied again, not "
            "rejected; by event type",
            ["event_type"], registry=registry,
        )  # fmt: skip
        self.dlq_forwarded = Counter(
            p + "dlq_forwarded", "Rejected records forwarded to the dead-letter topic",
            registry=registry,
        )  # fmt: skip
        self.dlq_failures = Counter(
            p + "dlq_forward_failures",
            "Batches whose rejections could not be forwarded to the dead-letter topic "
            "(they stay in ledger.rejections)",
            registry=registry,
        )  # fmt: skip
        self.dlq_pending = Gauge(
            p + "dlq_pending",
            "Rejections of this member's partitions whose dead-letter copy Kafka has not "
            "confirmed yet, as of the last check (sent again until it has)",
            registry=registry,
        )  # fmt: skip
        self.batch_size = Histogram(
            p + "batch_size_records", "Records per applied batch", buckets=BATCH_BUCKETS,
            registry=registry,
        )  # fmt: skip
        self.batch_duration = Histogram(
            p + "batch_duration_seconds", "Time from poll to Kafka offset commit for a batch",
            buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.commit_duration = Histogram(
            p + "db_commit_duration_seconds", "Time of the batch's database transaction",
            buckets=DURATION_BUCKETS, registry=registry,
        )  # fmt: skip
        self.latency = Histogram(
            p + "end_to_end_latency_seconds",
            "From the record's Kafka timestamp (publish time) to its ledger commit",
            buckets=LATENCY_BUCKETS, registry=registry,
        )  # fmt: skip
        self.lag_messages = Gauge(
            p + "lag_messages",
            "End offset minus the ledger's next offset, per assigned partition",
            ["topic", "partition"], registry=registry,
        )  # fmt: skip
        self.lag_seconds = Gauge(
            p + "lag_seconds",
            "Now minus the Kafka timestamp of the record at the ledger's next offset, per "
            "assigned partition (0 when the partition does not lag)",
            ["topic", "partition"], registry=registry,
        )  # fmt: skip
        self.committed_offset = Gauge(
            p + "committed_offset", "The ledger's next offset to apply, per partition",
            ["topic", "partition"], registry=registry,
        )  # fmt: skip
        self.assigned_partitions = Gauge(
            p + "assigned_partitions", "Partitions this member owns, as of the last lag check",
            registry=registry,
        )  # fmt: skip
        self.rebalances = Counter(
            p + "rebalances", "Partition assignments received from the group coordinator",
            registry=registry,
        )  # fmt: skip
        self.retries = Counter(
            p + "retries", "Batches retried after a transient failure, by kind", ["kind"],
            registry=registry,
        )  # fmt: skip
        self.fenced = Counter(
            p + "fenced_batches", "Batches rolled back because another member owned a partition",
            registry=registry,
        )  # fmt: skip
        self.start_time = Gauge(
            p + "start_time_seconds", "Unix time the consumer process started",
            registry=registry,
        )  # fmt: skip
        self.last_batch_time = Gauge(
            p + "last_batch_time_seconds", "Unix time of the last committed batch",
            registry=registry,
        )  # fmt: skip
        self.store_up = Gauge(
            p + "store_up",
            "1 if the ledger database answered the consumer's last probe in time, else 0",
            registry=registry,
        )  # fmt: skip
        self.kafka_up = Gauge(
            p + "kafka_up",
            "1 if Kafka answered the last lag check (end offsets) in time, else 0 (also 0 before "
            "the first check with partitions assigned)",
            registry=registry,
        )  # fmt: skip
        self.start_time.set(time.time())
        for kind in RETRY_KINDS:
            self.retries.labels(kind)
        for name in event_types:
            self.applied.labels(name)
            self.redelivered.labels(name)

    def watch(self, store: Refresher[None]) -> None:
        """Read store_up from the background probe at scrape time (no waiting)."""
        self.store_up.set_function(lambda: float(store.state().ok))
