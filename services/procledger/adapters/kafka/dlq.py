"""KafkaDlqForwarder: rejected records to the dead-letter topic, with Connect's error headers."""

from __future__ import annotations

from collections.abc import Sequence

from kafka import KafkaProducer

from procledger.ledger.ports import RejectionEntry
from procledger.settings import KafkaSettings

# Names the original record (topic/partition/offset): the same on every copy of it, so a
# reader drops the repeats that at-least-once forwarding can send (a crash before the mark).
DLQ_ID_HEADER = "procledger.dlq.id"


def dlq_id(rejection: RejectionEntry) -> str:
    return f"{rejection.topic}/{rejection.partition}/{rejection.offset}"


def dlq_headers(rejection: RejectionEntry) -> list[tuple[str, bytes]]:
    """Kafka Connect's `__connect.errors.*` names, which ops tools already know how to read."""
    prefix = "__connect.errors."
    headers = [
        (DLQ_ID_HEADER, dlq_id(rejection).encode()),
        (prefix + "topic", rejection.topic.encode()),
        (prefix + "partition", str(rejection.partition).encode()),
        (prefix + "offset", str(rejection.offset).encode()),
        (prefix + "exception.class.name", rejection.reason_code.encode()),
        (prefix + "exception.message", rejection.error.encode()[:4096]),
        (prefix + "stage", b"VALUE_CONVERTER" if rejection.payload is None else b"TASK_PUT"),
        (prefix + "connector.name", b"procledger-consumer"),
    ]
    # Keep the original headers (event type, source system) after the error ones.
    return headers + [(name, value) for name, value in rejection.headers]


class KafkaDlqForwarder:
    """Forwards after the ledger commit; `forward` returns once Kafka confirmed every copy."""

    def __init__(self, kafka: KafkaSettings, topic: str) -> None:
        self._topic = topic
        self._producer = KafkaProducer(
            acks="all",
            enable_idempotence=True,
            linger_ms=5,
            client_id="procledger-dlq",
            **kafka.client_config(),
        )

    def forward(self, rejections: Sequence[RejectionEntry]) -> None:
        futures = []
        for rejection in rejections:
            value = rejection.record_value
            key = (rejection.order_id or "").encode() or None
            if key is None and value is None:
                # A tombstone with no order: kafka-python refuses a record with neither key nor
                # value, which failed the whole batch's forwarding. Key it by its source.
                key = f"{rejection.topic}:{rejection.partition}:{rejection.offset}".encode()
            futures.append(
                self._producer.send(
                    self._topic, value=value, key=key, headers=dlq_headers(rejection)
                )
            )
        self._producer.flush()
        for future in futures:
            future.get(timeout=30)

    def close(self) -> None:
        self._producer.close(timeout=10)
