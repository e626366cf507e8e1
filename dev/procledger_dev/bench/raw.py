"""The raw limits: how fast this machine moves the same records without the product's work."""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from io import BytesIO

import psycopg
from fastavro import schemaless_reader
from kafka import KafkaConsumer, TopicPartition

from procledger.adapters.postgres.rows import (
    JOURNAL_COLUMNS,
    JOURNAL_TYPES,
    InstantTexts,
    journal_to_row,
    set_copy_types,
)
from procledger.codec.avro import decode
from procledger.codec.schemas import HEADER_LENGTH, default_registry
from procledger.domain.events import StockpileTargetSet
from procledger.ledger.ports import JournalEntry
from procledger.settings import KafkaSettings

# The product consumer's fetch settings (KafkaEventSource), so the two read alike.
FETCH = {
    "fetch_max_bytes": 50 * 1024 * 1024,
    "max_partition_fetch_bytes": 8 * 1024 * 1024,
    "fetch_min_bytes": 1,
    "fetch_max_wait_ms": 100,
}


def _from_the_start(kafka: KafkaSettings, topics: Sequence[str]) -> KafkaConsumer:
    """A group-less consumer assigned every partition of `topics`, at offset 0."""
    consumer = KafkaConsumer(
        group_id=None, enable_auto_commit=False, auto_offset_reset="earliest",
        **FETCH, **kafka.client_config(),
    )  # fmt: skip
    partitions = [
        TopicPartition(topic, p)
        for topic in topics
        for p in sorted(consumer.partitions_for_topic(topic) or ())
    ]
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    return consumer


def kafka_python_rate(kafka: KafkaSettings, topics: Sequence[str], total: int) -> float:
    """Records/s of a bare kafka-python consumer that only polls and counts, from offset 0.

    The clock starts once the partitions are assigned (bootstrap and metadata excluded) and
    stops when the last record has been polled.
    """
    consumer = _from_the_start(kafka, topics)
    try:
        count = 0
        started = time.perf_counter()
        while count < total:
            for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                count += len(records)
        return count / (time.perf_counter() - started)
    finally:
        consumer.close(autocommit=False)


def kcat_rate(bootstrap: str, topics: Sequence[str], total: int) -> float:
    """Records/s of `kcat -C -o beginning -e -q > /dev/null`, summed over the topics."""
    elapsed = 0.0
    for topic in topics:
        started = time.perf_counter()
        subprocess.run(
            ["kcat", "-C", "-b", bootstrap, "-t", topic, "-o", "beginning", "-e", "-q"],
            stdout=subprocess.DEVNULL, check=True, timeout=600,
        )  # fmt: skip
        elapsed += time.perf_counter() - started
    return total / elapsed


def read_values(kafka: KafkaSettings, topics: Sequence[str], total: int) -> list[bytes]:
    """The record values of the topics (for the decode and COPY limits, outside any clock)."""
    consumer = _from_the_start(kafka, topics)
    try:
        values: list[bytes] = []
        while len(values) < total:
            for records in consumer.poll(timeout_ms=1000, max_records=5000).values():
                values.extend(r.value for r in records)
        return values
    finally:
        consumer.close(autocommit=False)


def fastavro_rate(values: Sequence[bytes]) -> float:
    """Records/s of fastavro's schemaless_reader over the same bodies (writer schema only)."""
    schemas = {v.fingerprint: v.parsed for v in default_registry()}
    plan = [(schemas[v[2:HEADER_LENGTH]], v) for v in values]
    started = time.perf_counter()
    for schema, value in plan:
        buf = BytesIO(value)
        buf.seek(HEADER_LENGTH)
        schemaless_reader(buf, schema, None)
    return len(plan) / (time.perf_counter() - started)


@dataclass(frozen=True, slots=True)
class JournalRows:
    """Journal COPY rows for a sample of the events, cycled to the full count when copied."""

    sample: list[list[object]]
    total: int

    def __iter__(self) -> Iterator[list[object]]:
        for i in range(self.total):
            yield self.sample[i % len(self.sample)]


def journal_rows(values: Sequence[bytes], total: int, sample: int = 100_000) -> JournalRows:
    """The rows the consumer would COPY into ledger.journal for (a sample of) these records,
    through the store's own row mapping."""
    now = datetime.now(UTC)
    texts = InstantTexts()
    rows: list[list[object]] = []
    for offset, value in enumerate(values[:sample]):
        decoded = decode(value)
        event = decoded.event
        digest = hashlib.sha256(value).digest()
        entry = JournalEntry(
            event_id=event.event_id,
            event_type=decoded.event_type,
            order_id=None if isinstance(event, StockpileTargetSet) else event.order_id,
            payload=decoded.payload,
            writer_fingerprint=decoded.fingerprint,
            schema_version=decoded.schema_version,
            occurred_at=event.occurred_at,
            recorded_at=now,
            topic="bench",
            partition=offset % 6,
            offset=offset,
            kafka_timestamp=now,
            record_sha256=digest,
            prev_hash=digest,
            hash=digest,
        )
        rows.append(journal_to_row(entry, texts))
    return JournalRows(rows, total)


def copy_rate(admin_url: str, rows: JournalRows, chunk: int = 5000) -> float:
    """Rows/s of COPY into a scratch table with the journal's columns (no indexes), one
    transaction per `chunk` rows as the consumer commits a batch, same dumpers as the store."""
    with psycopg.connect(admin_url) as conn:
        # A logged table (a temporary one would skip the WAL the journal pays for).
        conn.execute(
            "CREATE TABLE bench_journal_copy "
            "(LIKE ledger.journal INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        conn.commit()
        started = time.perf_counter()
        pending = 0
        cur = conn.cursor()
        copy_sql = f"COPY bench_journal_copy ({JOURNAL_COLUMNS}) FROM STDIN"
        iterator = iter(rows)
        while pending < rows.total:
            with cur.copy(copy_sql) as copy:
                set_copy_types(copy, JOURNAL_TYPES)
                for _, row in zip(range(chunk), iterator, strict=False):
                    copy.write_row(row)
                    pending += 1
            conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_journal_copy")
        conn.commit()
        return rows.total / elapsed
