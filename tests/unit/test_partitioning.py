"""The publisher's partitioner picks the partition Kafka's default partitioner picks."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st
from kafka.partitioner import DefaultPartitioner

from procledger.adapters.kafka.partitioning import RecentKeysPartitioner

DEFAULT = DefaultPartitioner()


@dataclass
class Partitions:
    """The part of kafka-python's ClusterMetadata a partitioner reads: one topic's partitions."""

    topic: str
    ids: set[int]

    def topics(self) -> set[str]:
        return {self.topic}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self.ids) if topic == self.topic else None

    def available_partitions_for_topic(self, topic: str) -> set[int]:
        return set(self.ids) if topic == self.topic else set()


def _both(partitioner: RecentKeysPartitioner, cluster: Partitions, key: bytes) -> int:
    ours = partitioner.partition(cluster.topic, None, key, None, b"v", cluster)
    assert ours == DEFAULT.partition(cluster.topic, None, key, None, b"v", cluster), key
    return ours


@given(
    keys=st.lists(st.binary(max_size=48), min_size=1, max_size=60),
    sizes=st.lists(st.integers(1, 50), min_size=1, max_size=3),
    capacity=st.integers(1, 8),
)
def test_every_key_lands_where_the_default_puts_it_as_the_topic_grows(
    keys: list[bytes], sizes: list[int], capacity: int
) -> None:
    """Keys repeat (remembered), overflow a small memory (forgotten), and the topic gains
    partitions in between: the choice follows the default's every time."""
    partitioner = RecentKeysPartitioner(capacity=capacity)
    for size in sorted(sizes):
        cluster = Partitions("orders", set(range(size)))
        for key in keys + keys[::-1]:
            _both(partitioner, cluster, key)


def test_java_compatible_partitions_for_known_keys() -> None:
    """Independent of kafka-python: Utils.murmur2 of the Java client for published test keys,
    made positive (Utils.toPositive) and taken modulo the partition count, as Java does."""
    java_murmur2 = {
        b"21": -973932308,
        b"foobar": -790332482,
        b"a-little-bit-long-string": -985981536,
        b"1": -1993445489,
        b"12345": -1188365604,
    }
    partitioner = RecentKeysPartitioner()
    for count in (1, 6, 12, 1000):
        cluster = Partitions("orders", set(range(count)))
        for key, hashed in java_murmur2.items():
            want = (hashed & 0x7FFFFFFF) % count
            for _ in range(2):  # hashed, then remembered
                assert partitioner.partition("orders", None, key, None, b"", cluster) == want


def test_an_unknown_topic_is_refused_as_the_default_refuses_it() -> None:
    with pytest.raises(ValueError, match="not found"):
        RecentKeysPartitioner().partition("missing", None, b"k", None, b"", Partitions("o", {0}))


def test_records_without_a_key_still_go_to_some_partition() -> None:
    cluster = Partitions("orders", {0, 1, 2})
    assert RecentKeysPartitioner().partition("orders", None, None, None, b"", cluster) in {0, 1, 2}
