"""`ensure_topics` on the real broker: created once, reported, a changed count named."""

from __future__ import annotations

import logging
from dataclasses import replace

import pytest

from procledger.adapters.kafka.topics import ensure_topics
from procledger.settings import KafkaSettings, Topics


def _topics(unique: str, partitions: int) -> Topics:
    return Topics(f"t.{unique}.orders", f"t.{unique}.targets", f"t.{unique}.dlq", partitions, 1)


def test_created_then_existing_and_a_different_count_is_named(
    bootstrap: str, unique: str, caplog: pytest.LogCaptureFixture
) -> None:
    kafka = replace(KafkaSettings(), bootstrap_servers=bootstrap)
    topics = _topics(unique, 2)
    with caplog.at_level(logging.WARNING, logger="procledger.adapters.kafka.topics"):
        first = ensure_topics(kafka, topics)
        # No warning for topics just made (their metadata can lag; that race is not forced here).
        assert set(first.values()) == {"created (2 partitions)"}
        assert caplog.records == []
        again = ensure_topics(kafka, replace(topics, partitions=6))
    assert set(again.values()) == {"exists (2 partitions)"}
    assert [r.getMessage() for r in caplog.records] == [
        f"topic {name} has 2 partitions, TOPIC_PARTITIONS says 6"
        for name in (topics.orders, topics.stockpile_targets, topics.dlq)
    ]
