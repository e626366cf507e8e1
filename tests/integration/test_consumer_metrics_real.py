"""The consumer's metric sources against the real servers: Kafka head timestamps, projections."""

from __future__ import annotations

import subprocess
import sys
import time

from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.heads import KafkaHeadReader
from procledger.adapters.postgres.business import PostgresBusinessQueries
from procledger.ledger.business_metrics import LedgerBusinessCollector
from procledger.probes import Refresher
from procledger.scenario import story_events
from tests.plugins.ledger import LedgerEnv


def test_head_reader_returns_the_timestamp_of_the_record_at_an_offset(ledger: LedgerEnv) -> None:
    topic = ledger.topics.orders
    producer = KafkaProducer(**ledger.kafka.client_config())
    # Explicit timestamps, so the answer tells which record was read.
    base_ms = int(time.time() * 1000) - 3_600_000
    try:
        for i in range(5):
            producer.send(topic, value=b"x", partition=0, timestamp_ms=base_ms + i * 1000)
        producer.flush(30)
    finally:
        producer.close()
    reader = KafkaHeadReader(ledger.kafka, timeout_s=10)
    try:
        found = reader.timestamps({(topic, 0): 3, (topic, 1): 0})
        again = reader.timestamps({(topic, 0): 0})
    finally:
        reader.close()
    assert found == {(topic, 0): (base_ms + 3000) / 1000}, "partition 1 is empty: no answer"
    assert again == {(topic, 0): base_ms / 1000}, "a second call seeks again"


def test_head_reader_answers_every_partition_call_after_call(ledger: LedgerEnv) -> None:
    """The consumer asks again every lag interval, further on each time. A call that took
    only part of a fetched batch left the rest in line for that partition; after the next
    call's seek kafka-python fetched it no more, and that call waited out its timeout with
    the partition unanswered (18 calls of 25 in a loop, 1 s each; a consumer catching up
    spent a fifth of its main thread's time in these calls)."""
    topic, partitions, per_partition = ledger.topics.orders, 3, 1500
    base_ms = int(time.time() * 1000) - 3_600_000
    producer = KafkaProducer(
        **ledger.kafka.client_config(), linger_ms=50, batch_size=256 * 1024
    )  # large batches, as a busy publisher sends them
    try:
        for i in range(per_partition):
            for p in range(partitions):
                # The timestamp names the record: partition and offset.
                producer.send(
                    topic, value=b"x" * 200, partition=p, timestamp_ms=base_ms + p * 100_000 + i
                )
        producer.flush(30)
    finally:
        producer.close()
    reader = KafkaHeadReader(ledger.kafka, timeout_s=5)
    try:
        for offset in range(0, per_partition, 120):
            wanted = {(topic, p): offset + p for p in range(partitions)}
            assert reader.timestamps(wanted) == {
                (topic, p): (base_ms + p * 100_000 + offset + p) / 1000 for p in range(partitions)
            }, f"a partition went unanswered at offset {offset}"
    finally:
        reader.close()


def test_business_collector_reads_the_story_from_postgres(ledger: LedgerEnv) -> None:
    ledger.publish(story_events())
    ledger.consume()
    queries = PostgresBusinessQueries(ledger.env["DATABASE_URL"])  # the consumer's own role
    refresher = Refresher("business-test", queries, interval_s=5.0, timeout_s=10.0)
    refresher.refresh_once()  # what the consumer's background thread does every 5 s
    registry = CollectorRegistry()
    registry.register(LedgerBusinessCollector(refresher))
    try:
        get = registry.get_sample_value
        assert get("procledger_ledger_projection_scrape_success") == 1
        for buyer, caliber, value_usd, quantity, delivered in ledger.rows(
            "SELECT buyer, coalesce(caliber_mm::text, 'none'), sum(value_usd), sum(quantity),"
            " sum(delivered_quantity) FROM ledger.orders GROUP BY 1, 2"
        ):
            labels = {"buyer": buyer, "caliber_mm": caliber}
            assert get("procledger_ledger_committed_value_usd", labels) == float(value_usd)
            assert get("procledger_ledger_committed_quantity", labels) == quantity
            assert get("procledger_ledger_delivered_quantity", labels) == delivered
        # Business time: by the month each order was placed in, summing to the same total.
        by_month = ledger.rows(
            "SELECT to_char(placed_at AT TIME ZONE 'UTC', 'YYYY-MM'),"
            " coalesce(caliber_mm::text, 'none'), sum(value_usd) FROM ledger.orders GROUP BY 1, 2"
        )
        assert len({month for month, _, _ in by_month}) > 1
        for month, caliber, value_usd in by_month:
            labels = {"month": month, "caliber_mm": caliber}
            assert get("procledger_ledger_committed_value_by_month_usd", labels) == float(value_usd)
        targets = ledger.rows(
            "SELECT country, caliber_mm, target_quantity FROM ledger.stockpile_targets"
        )
        assert targets
        for country, caliber, target in targets:
            labels = {"country": country, "caliber_mm": str(caliber)}
            assert get("procledger_ledger_stockpile_target_quantity", labels) == target
            holdings = get("procledger_ledger_stockpile_holdings_quantity", labels)
            assert holdings is not None
            gap = get("procledger_ledger_stockpile_gap_quantity", labels)
            assert gap == max(0, target - holdings)
        ytd = get("procledger_ledger_ordered_value_155mm_ytd_usd")
        expected = ledger.scalar(
            "SELECT sum(value_usd) FROM ledger.orders WHERE caliber_mm = 155"
            " AND placed_at >= '2023-01-01' AND placed_at < '2024-01-01'"
        )
        assert ytd == float(expected)
        as_of = ledger.scalar(
            "SELECT extract(epoch FROM max(placed_at)) FROM ledger.orders WHERE caliber_mm = 155"
        )
        assert get("procledger_ledger_ordered_value_155mm_ytd_as_of_seconds") == float(as_of)
        sealed = "procledger_ledger_checkpoint_sealed_timestamp_seconds"
        assert get(sealed) is None, "no checkpoint built yet"
        run = subprocess.run(
            [sys.executable, "-m", "procledger", "ledger", "checkpoint", "--lag", "0"],
            env=ledger.env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        refresher.refresh_once()
        expected = ledger.scalar("SELECT extract(epoch FROM sealed_until) FROM ledger.checkpoints")
        assert get(sealed) == float(expected)
    finally:
        queries.close()
