"""KafkaHeadReader: records at given offsets, for lag in seconds and dead-letter copies."""

from __future__ import annotations

import logging
import time
from collections.abc import Collection, Mapping
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from procledger.ledger import ports
from procledger.settings import KafkaSettings

log = logging.getLogger(__name__)

# Each poll takes every record fetched (at most max_partition_fetch_bytes per partition), never
# part of a batch. With a partition's records left in line, kafka-python's debug log showed no
# fetch of that partition after the next call's seek: the call waited out its whole timeout
# with the partition unanswered (18 calls of 25 in a loop; a consumer catching up spent a fifth
# of its main thread's time in these calls).
_EVERY_RECORD_FETCHED = 1_000_000


class KafkaHeadReader:
    """A group-less reader, separate from the group member so its fetch position is untouched.

    The consumer asks it only for lagging partitions, at most once per lag interval, so it
    costs nothing while the ledger keeps up.
    """

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 1.0) -> None:
        self._kafka = kafka
        self._timeout_s = timeout_s
        self._consumer = KafkaConsumer(
            group_id=None,
            client_id="procledger-consumer-lag",
            enable_auto_commit=False,
            # Only the first record is looked at, and every record fetched is parsed: fetch
            # little. A first batch larger than this still comes back for at least one
            # partition per fetch (KIP-74), so a read may take a few fetches, each cheap.
            # 64 KiB: 22-53 ms of CPU per read of 6 partitions; 1 KiB: 12-19 (36 connecting).
            max_partition_fetch_bytes=1024,
            fetch_max_wait_ms=50,
            **kafka.client_config(),
        )

    def timestamps(
        self, offsets: Mapping[ports.TopicPartition, int]
    ) -> dict[ports.TopicPartition, float]:
        """Unix seconds of the first record at or after each offset; missing if none arrived."""
        wanted = {TopicPartition(*tp): offset for tp, offset in offsets.items()}
        if not wanted:
            return {}
        self._consumer.assign(list(wanted))
        for tp, offset in wanted.items():
            self._consumer.seek(tp, offset)
        found: dict[ports.TopicPartition, float] = {}
        done: set[ports.TopicPartition] = set()
        deadline = time.monotonic() + self._timeout_s
        while len(done) < len(wanted) and (left := deadline - time.monotonic()) > 0:
            batches: dict[Any, list[Any]] = self._consumer.poll(
                timeout_ms=max(1, int(left * 1000)), max_records=_EVERY_RECORD_FETCHED
            )
            for tp, records in batches.items():
                key = (tp.topic, tp.partition)
                if key in done or not records:
                    continue
                done.add(key)
                first = min(records, key=lambda r: r.offset)
                # -1 marks a record without a timestamp (old message format): no estimate.
                if first.timestamp is not None and first.timestamp >= 0:
                    found[key] = first.timestamp / 1000
                self._consumer.pause(tp)
        self._consumer.resume(*self._consumer.paused())
        return found

    def records(
        self, offsets: Mapping[ports.TopicPartition, Collection[int]], timeout_s: float = 10.0
    ) -> dict[ports.RecordKey, ports.KafkaRecord]:
        """The records at exactly these offsets (to resend their dead-letter copies); an offset
        not read within `timeout_s` (or deleted by retention) is missing from the answer."""
        wanted = {TopicPartition(*tp): set(found) for tp, found in offsets.items() if found}
        if not wanted:
            return {}
        # A consumer of its own for each call, not the lag reader's: that one carries the
        # pause and position state of every earlier call, and once (a consumer under load,
        # PostgreSQL restarted) it stayed idle, nothing fetchable, for every drain over
        # minutes while a new consumer read the same offsets in half a second. Drains are
        # rare (only after a copy failed), so a fresh connection each time costs little.
        consumer = KafkaConsumer(
            group_id=None,
            client_id="procledger-consumer-dlq-originals",
            enable_auto_commit=False,
            **self._kafka.client_config(),
        )
        try:
            return _read_exactly(consumer, wanted, time.monotonic() + timeout_s)
        finally:
            consumer.close(autocommit=False)

    def close(self) -> None:
        self._consumer.close(autocommit=False)


def _read_exactly(
    consumer: KafkaConsumer, wanted: dict[TopicPartition, set[int]], deadline: float
) -> dict[ports.RecordKey, ports.KafkaRecord]:
    consumer.assign(list(wanted))
    for tp, want in wanted.items():
        consumer.seek(tp, min(want))
    found: dict[ports.RecordKey, ports.KafkaRecord] = {}
    while wanted and (left := deadline - time.monotonic()) > 0:
        batches: dict[Any, list[Any]] = consumer.poll(
            timeout_ms=max(1, int(left * 1000)), max_records=5000
        )
        for tp, items in batches.items():
            want = wanted.get(tp, set())
            for r in items:
                if r.offset in want:
                    found[(tp.topic, tp.partition, r.offset)] = ports.KafkaRecord(
                        tp.topic,
                        tp.partition,
                        r.offset,
                        r.timestamp,
                        r.key,
                        r.value,
                        tuple(r.headers or ()),
                    )
            if items and items[-1].offset >= max(want, default=-1):
                wanted.pop(tp, None)
                consumer.pause(tp)
    return found
