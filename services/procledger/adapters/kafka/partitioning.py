"""Key partitioning as Kafka's default (murmur2 of the key), remembering recent keys' hashes."""

from __future__ import annotations

from typing import Any

from kafka.partitioner import DefaultPartitioner
from kafka.partitioner.default import murmur2


class RecentKeysPartitioner(DefaultPartitioner):  # type: ignore[misc]
    """The partition Kafka's default partitioner picks for a keyed record, for less CPU.

    kafka-python's murmur2 is pure Python, and an order's events come in runs (placed,
    amended, delivered, paid), so the publisher hashed the same key again and again: a tenth
    of its CPU. The hash of each recent key is kept (at most `capacity`, forgotten all at
    once when full); the partition is still taken from the topic's current partition list
    on every record, so a topic that grew is followed as before. Records without a key go
    to the default partitioner unchanged.
    """

    def __init__(self, capacity: int = 4096) -> None:
        super().__init__()
        self._capacity = capacity
        self._hashes: dict[bytes, int] = {}

    def partition(  # noqa: PLR0917 (kafka-python's Partitioner signature)
        self,
        topic: str,
        key: Any,
        serialized_key: bytes | None,
        value: Any,
        serialized_value: bytes | None,
        cluster: Any,
    ) -> int:
        # No key, or a topic the metadata lacks: the default decides (and refuses the latter).
        if serialized_key is None or not (partitions := cluster.partitions_for_topic(topic)):
            return int(
                super().partition(topic, key, serialized_key, value, serialized_value, cluster)
            )
        hashed = self._hashes.get(serialized_key)
        if hashed is None:
            if len(self._hashes) >= self._capacity:
                self._hashes.clear()
            hashed = self._hashes[serialized_key] = murmur2(serialized_key) & 0x7FFFFFFF
        ordered = sorted(partitions)
        return int(ordered[hashed % len(ordered)])
