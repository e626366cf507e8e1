"""`audit verify --against-kafka`: each recorded digest equals sha256 of the record in Kafka."""

from __future__ import annotations

import hashlib
import time

from kafka import KafkaConsumer, TopicPartition

from procledger.adapters.postgres.audit_reader import Connection
from procledger.audit.verify import Progress, VerifyReport
from procledger.settings import KafkaSettings

_POLL_GIVE_UP_S = 30.0


def check_against_kafka(
    conn: Connection, kafka: KafkaSettings, report: VerifyReport, progress: Progress
) -> None:
    """Re-read every partition from offset 0 up to the ledger's position and compare digests."""
    recorded: dict[tuple[str, int], dict[int, bytes]] = {}
    raw = conn.execute(
        "SELECT topic, kafka_partition, kafka_offset, record_sha256 FROM audit.journal "
        "UNION ALL SELECT topic, kafka_partition, kafka_offset, record_sha256 "
        "FROM audit.rejections"
    ).fetchall()
    for topic, partition, offset, digest in raw:
        recorded.setdefault((topic, partition), {})[offset] = bytes(digest)
    positions = conn.execute(
        "SELECT topic, kafka_partition, next_offset FROM audit.positions ORDER BY 1, 2"
    ).fetchall()
    # No group: assign + seek reads without joining (or disturbing) any consumer group.
    consumer = KafkaConsumer(
        enable_auto_commit=False,
        group_id=None,
        client_id="procledger-audit",
        fetch_max_wait_ms=200,
        **kafka.client_config(),
    )
    compared = 0
    try:
        for topic, partition, next_offset in positions:
            if next_offset == 0:
                continue
            tp = TopicPartition(topic, partition)
            digests = recorded.get((topic, partition), {})
            consumer.assign([tp])
            consumer.seek(tp, 0)
            expected = 0
            deadline = time.monotonic() + _POLL_GIVE_UP_S
            while expected < next_offset and time.monotonic() < deadline:
                batch = consumer.poll(timeout_ms=500, max_records=5000)
                for record in batch.get(tp, []):
                    if record.offset >= next_offset:
                        break
                    if record.offset > expected:
                        report.discrepancies.append(
                            f"{topic}[{partition}]: offsets {expected}..{record.offset - 1} "
                            "are no longer in Kafka (retention or compaction)"
                        )
                    digest = digests.get(record.offset)
                    actual = hashlib.sha256(record.value or b"").digest()
                    if digest is not None and digest != actual:
                        report.discrepancies.append(
                            f"{topic}[{partition}]@{record.offset}: record_sha256 differs from "
                            "the record in Kafka"
                        )
                    expected = record.offset + 1
                    compared += 1
                    progress(1)
                    deadline = time.monotonic() + _POLL_GIVE_UP_S
            if expected < next_offset:
                report.discrepancies.append(
                    f"{topic}[{partition}]: Kafka returned offsets only up to {expected - 1}, "
                    f"the ledger holds up to {next_offset - 1}"
                )
    finally:
        consumer.close()
    report.checked["kafka_records"] = compared
