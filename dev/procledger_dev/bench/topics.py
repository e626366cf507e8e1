"""The benchmark's throwaway topic sets: uniquely named, deleted when the run ends."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from kafka.admin import KafkaAdminClient

from procledger.adapters.kafka.topics import ensure_topics
from procledger.settings import KafkaSettings, Topics


def fresh_topics(kafka: KafkaSettings, label: str, partitions: int) -> Topics:
    """A new set of the product's three topics, `bench.<run>.<label>.*`, created now."""
    prefix = f"bench.{uuid.uuid4().hex[:8]}.{label}"
    topics = Topics(f"{prefix}.orders", f"{prefix}.targets", f"{prefix}.dlq", partitions=partitions)
    ensure_topics(kafka, topics)
    return topics


def delete_topics(kafka: KafkaSettings, sets: Sequence[Topics]) -> None:
    if not sets:
        return
    admin = KafkaAdminClient(client_id="procledger-bench", **kafka.client_config())
    try:
        admin.delete_topics([n for t in sets for n in (t.orders, t.stockpile_targets, t.dlq)])
    finally:
        admin.close()
