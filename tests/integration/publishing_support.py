"""Helpers for the producer tests: unique topics on the real broker, and reading them back."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kafka import KafkaConsumer, TopicPartition

from procledger.adapters.kafka.topics import ensure_topics
from procledger.codec.avro import decode
from procledger.codec.jsonform import event_to_json_dict
from procledger.domain.events import Event
from procledger.settings import KafkaSettings, Topics


@dataclass(frozen=True)
class Record:
    topic: str
    partition: int
    offset: int
    event: Event
    headers: dict[str, bytes]


@dataclass(frozen=True)
class TopicSet:
    """A unique set of the product's topics; `env` points the CLI at them."""

    kafka: KafkaSettings
    topics: Topics

    @property
    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "TOPIC_ORDERS": self.topics.orders,
            "TOPIC_STOCKPILE_TARGETS": self.topics.stockpile_targets,
            "TOPIC_DLQ": self.topics.dlq,
            "PUBLISH_METRICS_PORT": "0",
        }

    def _partitions(self, consumer: KafkaConsumer) -> list[TopicPartition]:
        names = (self.topics.orders, self.topics.stockpile_targets)
        return [
            TopicPartition(name, p)
            for name in names
            for p in sorted(consumer.partitions_for_topic(name) or ())
        ]

    def end_offsets(self) -> dict[tuple[str, int], int]:
        consumer = KafkaConsumer(**self.kafka.client_config())
        try:
            ends = consumer.end_offsets(self._partitions(consumer))
        finally:
            consumer.close()
        return {(tp.topic, tp.partition): offset for tp, offset in ends.items()}

    def total(self) -> int:
        return sum(self.end_offsets().values())

    def read_all(self) -> list[Record]:
        """Every record of the orders and targets topics, decoded, up to the end offsets."""
        consumer = KafkaConsumer(enable_auto_commit=False, **self.kafka.client_config())
        try:
            partitions = self._partitions(consumer)
            consumer.assign(partitions)
            consumer.seek_to_beginning(*partitions)
            ends = consumer.end_offsets(partitions)
            records: list[Record] = []
            while any(consumer.position(tp) < end for tp, end in ends.items()):
                batches: dict[Any, list[Any]] = consumer.poll(timeout_ms=1000)
                for batch in batches.values():
                    for r in batch:
                        records.append(
                            Record(r.topic, r.partition, r.offset, decode(r.value).event,
                                   dict(r.headers))
                        )  # fmt: skip
            return records
        finally:
            consumer.close()


def orders_csv(path: Path, events: Sequence[Event]) -> Path:
    """OrderPlaced events as the CSV `publish` reads: a header row, every cell quoted."""
    header = list(event_to_json_dict(events[0]))
    rows = [",".join(header)]
    for event in events:
        values = event_to_json_dict(event)
        rows.append(",".join("" if values[h] is None else f'"{values[h]}"' for h in header))
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def unique_topics(bootstrap: str, unique: str) -> TopicSet:
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    topics = Topics(
        orders=f"t.{unique}.orders",
        stockpile_targets=f"t.{unique}.targets",
        dlq=f"t.{unique}.dlq",
        partitions=3,
    )
    ensure_topics(kafka, topics)
    return TopicSet(kafka, topics)
