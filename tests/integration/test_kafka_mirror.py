"""The ledger's positions mirrored to Kafka's group offsets, on the real broker: sent without
waiting during the run, and in step with the ledger once a consumer has stopped."""

from __future__ import annotations

import time

from kafka import KafkaAdminClient

from procledger.adapters.kafka.source import KafkaEventSource
from procledger.scenario.synthetic import synthetic_events
from tests.plugins.ledger import LedgerEnv


def _group_offsets(ledger: LedgerEnv, group: str) -> dict[tuple[str, int], int]:
    admin = KafkaAdminClient(client_id="tests-mirror", **ledger.kafka.client_config())
    try:
        offsets = admin.list_group_offsets(group)[group]
    finally:
        admin.close()
    return {(tp.topic, tp.partition): meta.offset for tp, meta in offsets.items()}


def _positions(ledger: LedgerEnv) -> dict[tuple[str, int], int]:
    rows = ledger.rows("SELECT topic, kafka_partition, next_offset FROM ledger.positions")
    return {(t, p): n for t, p, n in rows if n > 0}


def _poll_all(source: KafkaEventSource, records: int) -> dict[tuple[str, int], int]:
    """Poll until `records` records came; the next offset of each partition."""
    seen: dict[tuple[str, int], int] = {}
    deadline = time.monotonic() + 60
    while sum(seen.values()) < records:
        assert time.monotonic() < deadline, f"polled only {seen}"
        for r in source.poll(0.5, 500):
            seen[(r.topic, r.partition)] = r.offset + 1
    return seen


def test_a_stopped_consumer_leaves_the_group_offsets_at_the_ledger_positions(
    ledger: LedgerEnv,
) -> None:
    ledger.publish(synthetic_events(400, seed=31))
    ledger.consume()  # until idle, then it closes: the last mirror goes out before it exits
    positions = _positions(ledger)
    assert sum(positions.values()) >= 400
    assert _group_offsets(ledger, ledger.env["CONSUMER_GROUP"]) == positions


def test_offsets_mirrored_during_a_run_reach_the_broker(
    ledger: LedgerEnv,
) -> None:
    ledger.publish(synthetic_events(50, seed=32))
    group = f"{ledger.env['CONSUMER_GROUP']}.mirror"
    source = KafkaEventSource(
        ledger.kafka, [ledger.topics.orders, ledger.topics.stockpile_targets], group
    )
    try:
        seen = _poll_all(source, 50)
        source.commit(seen)
        # The offsets reach the broker while the source stays open (the client's I/O thread
        # sends them; the next poll runs the completion callback).
        deadline = time.monotonic() + 30
        while _group_offsets(ledger, group) != seen:
            assert time.monotonic() < deadline, _group_offsets(ledger, group)
            source.poll(0.1, 1)
    finally:
        source.close()
    assert _group_offsets(ledger, group) == seen


def test_close_right_after_a_commit_leaves_the_offsets_at_the_broker(ledger: LedgerEnv) -> None:
    ledger.publish(synthetic_events(50, seed=33))
    group = f"{ledger.env['CONSUMER_GROUP']}.close"
    source = KafkaEventSource(
        ledger.kafka, [ledger.topics.orders, ledger.topics.stockpile_targets], group
    )
    try:
        seen = _poll_all(source, 50)
        source.commit(seen)
    finally:
        source.close()  # at once: the mirror just sent may still be in flight
    assert _group_offsets(ledger, group) == seen
