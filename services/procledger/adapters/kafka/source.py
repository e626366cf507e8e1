"""KafkaEventSource: a consumer-group member whose positions come from the ledger, not Kafka."""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.subscription_state import ConsumerRebalanceListener
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from procledger.ledger.ports import KafkaRecord, SourceFailed, SourceUnavailable
from procledger.ledger.ports import TopicPartition as TopicPartitionKey
from procledger.settings import KafkaSettings

log = logging.getLogger(__name__)

END_OFFSETS_TIMEOUT_MS = 5000
HEARTBEAT_INTERVAL_MS = 500


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    """Only records what changed: the callbacks run inside poll(), so no I/O happens here."""

    def __init__(self, source: KafkaEventSource) -> None:
        self._source = source

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self._source._on_revoked({(tp.topic, tp.partition) for tp in revoked})

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._source._on_assigned({(tp.topic, tp.partition) for tp in assigned})


class KafkaEventSource:
    """Subscribes a group member; the caller seeks new partitions to the ledger's offsets."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Sequence[str],
        group_id: str,
        *,
        session_timeout_ms: int = 10_000,
        max_poll_interval_ms: int = 300_000,
        # A fetch of 2 MiB per partition is ~5,000 records, a full batch: larger fetches only
        # sit in the client's buffers (they were most of the consumer's peak RSS).
        fetch_max_bytes: int = 8 * 1024 * 1024,
        max_partition_fetch_bytes: int = 2 * 1024 * 1024,
    ) -> None:
        self._lock = threading.Lock()
        self._new: set[TopicPartitionKey] = set()
        self.rebalances = 0
        self._consumer = KafkaConsumer(
            group_id=group_id,
            client_id=f"procledger-consumer-{group_id}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=session_timeout_ms,
            # A member learns that its group rebalances from a heartbeat's answer. A group
            # started together rebalances twice (kafka-python's leader assigns before the
            # topics' metadata arrives), and with heartbeats 2.5 s apart two processes took
            # 0.72-3.27 s from start to their first commit (0.72-1.07 at 500 ms).
            heartbeat_interval_ms=min(HEARTBEAT_INTERVAL_MS, session_timeout_ms // 3),
            max_poll_interval_ms=max_poll_interval_ms,
            fetch_max_bytes=fetch_max_bytes,
            max_partition_fetch_bytes=max_partition_fetch_bytes,
            fetch_min_bytes=1,
            fetch_max_wait_ms=100,
            **kafka.client_config(),
        )
        self._consumer.subscribe(list(topics), listener=_Listener(self))

    def _on_assigned(self, partitions: set[TopicPartitionKey]) -> None:
        with self._lock:
            self._new |= partitions
            self.rebalances += 1
        log.info("assigned %s", sorted(partitions))

    def _on_revoked(self, partitions: set[TopicPartitionKey]) -> None:
        with self._lock:
            self._new -= partitions
        log.info("revoked %s", sorted(partitions))

    def poll(self, timeout_s: float, max_records: int) -> list[KafkaRecord]:
        try:
            batches: dict[Any, list[Any]] = self._consumer.poll(
                timeout_ms=int(timeout_s * 1000), max_records=max_records
            )
        except KafkaError as err:
            # kafka-python 3.0.12 lets some outage errors out of poll(): while the broker
            # restarts, a failed FindCoordinator (KafkaConnectionError, an InvalidMetadataError)
            # makes ensure_coordinator_ready wait for a metadata refresh, and that refresh's
            # own ECONNREFUSED is not caught (coordinator/base.py). Uncaught, it ended the
            # consumer process. The client's state is intact: the next poll looks again.
            reason = f"{type(err).__name__}: {err}"
            if err.retriable:
                raise SourceUnavailable(reason) from err
            raise SourceFailed(reason) from err
        records: list[KafkaRecord] = []
        for tp, items in batches.items():
            topic, partition = tp.topic, tp.partition
            records.extend(
                KafkaRecord(
                    topic, partition, r.offset, r.timestamp, r.key, r.value, tuple(r.headers or ())
                )
                for r in items
            )
        return records

    def assigned(self) -> set[TopicPartitionKey]:
        return {(tp.topic, tp.partition) for tp in self._consumer.assignment()}

    def take_new_assignments(self) -> set[TopicPartitionKey]:
        with self._lock:
            new, self._new = self._new, set()
        return new & self.assigned()

    def seek(self, partition: TopicPartitionKey, offset: int) -> None:
        self._consumer.seek(TopicPartition(*partition), offset)

    def commit(self, offsets: Mapping[TopicPartitionKey, int]) -> None:
        """Sent without waiting: the ledger holds the truth and Kafka's copy only feeds lag
        tools, so a broker round trip per batch need not hold up the next batch."""
        owned = self.assigned()
        payload = {
            TopicPartition(*tp): OffsetAndMetadata(offset, "", -1)
            for tp, offset in offsets.items()
            if tp in owned
        }
        if not payload:
            return
        try:
            self._consumer.commit_async(payload, callback=_mirrored)
        except KafkaError as err:
            log.warning("could not mirror offsets to Kafka: %s", err)

    def end_offsets(self) -> dict[TopicPartitionKey, int]:
        partitions = list(self._consumer.assignment())
        if not partitions:
            return {}
        # Bounded: the client's default (its request timeout, minutes) would stall the loop
        # for that long while the brokers do not answer.
        ends = self._consumer.end_offsets(partitions, timeout_ms=END_OFFSETS_TIMEOUT_MS)
        return {(tp.topic, tp.partition): int(offset) for tp, offset in ends.items()}

    def pause(self, partitions: Sequence[TopicPartitionKey]) -> None:
        self._consumer.pause(*[TopicPartition(*tp) for tp in partitions])

    def close(self) -> None:
        # kafka-python's close sends what is in flight, the last mirror included
        # (tests/integration/test_kafka_mirror.py closes right after a commit).
        self._consumer.close(autocommit=False)


def _mirrored(offsets: Mapping[TopicPartition, OffsetAndMetadata], result: object) -> None:
    """The async mirror's outcome, called from the client's poll (never raises)."""
    if isinstance(result, Exception):
        log.warning("could not mirror offsets to Kafka: %s", result)
