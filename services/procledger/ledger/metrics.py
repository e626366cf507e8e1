"""The ledger consumer's Prometheus metrics, defined once and bound to a given registry."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry

from procledger.metric_factory import MetricFactory
from procledger.probes import Refresher

# Latency from a record's Kafka timestamp to the ledger commit: 1 ms up to 5 minutes.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
                   60, 120, 300)  # fmt: skip
BATCH_BUCKETS = (1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 20000)
DURATION_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
RETRY_KINDS = ("unavailable", "conflict", "kafka")


# The HELP text of each metric, by its name after the prefix.
HELP = {
    "events_consumed": "Records polled from Kafka, by topic",
    "events_applied": "Events appended to the journal, by event type",
    "events_rejected": "Records rejected, by event type and reason code",
    "events_redelivered": (
        "Records repeating an event already in the journal with the same content (a producer "
        "retry or a re-sent request): acknowledged, not applied again, not rejected; by event "
        "type"
    ),
    "dlq_forwarded": "Rejected records forwarded to the dead-letter topic",
    "dlq_forward_failures": (
        "Batches whose rejections could not be forwarded to the dead-letter topic (they stay in "
        "ledger.rejections)"
    ),
    "dlq_pending": (
        "Rejections of this member's partitions whose dead-letter copy Kafka has not confirmed "
        "yet, as of the last check (sent again until it has)"
    ),
    "batch_size_records": "Records per applied batch",
    "batch_duration_seconds": "Time from poll to Kafka offset commit for a batch",
    "db_commit_duration_seconds": "Time of the batch's database transaction",
    "end_to_end_latency_seconds": (
        "From the record's Kafka timestamp (publish time) to its ledger commit"
    ),
    "lag_messages": "End offset minus the ledger's next offset, per assigned partition",
    "lag_seconds": (
        "Now minus the Kafka timestamp of the record at the ledger's next offset, per assigned "
        "partition (0 when the partition does not lag)"
    ),
    "committed_offset": "The ledger's next offset to apply, per partition",
    "assigned_partitions": "Partitions this member owns, as of the last lag check",
    "rebalances": "Partition assignments received from the group coordinator",
    "retries": (
        "Retries after a transient failure, by kind: unavailable (the database), conflict, "
        "kafka (a poll that could not reach the brokers)"
    ),
    "fenced_batches": "Batches rolled back because another member owned a partition",
    "start_time_seconds": "Unix time the consumer process started",
    "last_batch_time_seconds": "Unix time of the last committed batch",
    "store_up": "1 if the ledger database answered the consumer's last probe in time, else 0",
    "kafka_up": (
        "1 if Kafka answered the last lag check (end offsets) in time, else 0 (also 0 before the "
        "first check with partitions assigned)"
    ),
}


class ConsumerMetrics:
    """The ledger consumer's metrics (prefix procledger_consumer_).

    Counters whose labels are known in advance start at zero, so that `increase()` sees the
    first event and alerts on "no events" have a series to compare instead of none.
    """

    def __init__(self, registry: CollectorRegistry, event_types: Iterable[str] = ()) -> None:
        m = MetricFactory(registry, "procledger_consumer_", HELP)
        self.consumed = m.counter("events_consumed", ("topic",))
        self.applied = m.counter("events_applied", ("event_type",))
        self.rejected = m.counter("events_rejected", ("event_type", "reason"))
        self.redelivered = m.counter("events_redelivered", ("event_type",))
        self.dlq_forwarded = m.counter("dlq_forwarded")
        self.dlq_failures = m.counter("dlq_forward_failures")
        self.dlq_pending = m.gauge("dlq_pending")
        self.batch_size = m.histogram("batch_size_records", buckets=BATCH_BUCKETS)
        self.batch_duration = m.histogram("batch_duration_seconds", buckets=DURATION_BUCKETS)
        self.commit_duration = m.histogram("db_commit_duration_seconds", buckets=DURATION_BUCKETS)
        self.latency = m.counted_histogram("end_to_end_latency_seconds", buckets=LATENCY_BUCKETS)
        self.lag_messages = m.gauge("lag_messages", ("topic", "partition"))
        self.lag_seconds = m.gauge("lag_seconds", ("topic", "partition"))
        self.committed_offset = m.gauge("committed_offset", ("topic", "partition"))
        self.assigned_partitions = m.gauge("assigned_partitions")
        self.rebalances = m.counter("rebalances")
        self.retries = m.counter("retries", ("kind",))
        self.fenced = m.counter("fenced_batches")
        self.start_time = m.gauge("start_time_seconds")
        self.last_batch_time = m.gauge("last_batch_time_seconds")
        self.store_up = m.gauge("store_up")
        self.kafka_up = m.gauge("kafka_up")
        self.start_time.set(time.time())
        for kind in RETRY_KINDS:
            self.retries.labels(kind)
        for name in event_types:
            self.applied.labels(name)
            self.redelivered.labels(name)

    def watch(self, store: Refresher[None]) -> None:
        """Read store_up from the background probe at scrape time (no waiting)."""
        self.store_up.set_function(lambda: float(store.state().ok))
