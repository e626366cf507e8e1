"""PostgresDlqLog: the dead-letter outbox's marks (ledger.dlq_forwarded) and what lacks one."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import psycopg
from psycopg.rows import dict_row

from procledger.ledger.ports import RecordKey, RejectionEntry, StoreUnavailable, TopicPartition

# The rejections of the given partitions that no mark names, oldest first. The anti-join walks
# the marks' primary key, so a drain costs one index probe per rejection of those partitions.
_PENDING = """
SELECT r.topic, r.kafka_partition AS partition, r.kafka_offset AS offset, r.kafka_timestamp,
       r.event_id, r.event_type, r.order_id, r.reason_code, r.error, r.payload, r.raw_value,
       r.record_sha256, r.recorded_at, count(*) OVER () AS pending_total
FROM ledger.rejections r
WHERE (r.topic, r.kafka_partition) IN (SELECT * FROM unnest(%s::text[], %s::int[]))
  AND r.reason_code <> 'REDELIVERED'  -- acknowledged re-sends: never dead-lettered
  AND NOT EXISTS (SELECT 1 FROM ledger.dlq_forwarded f WHERE f.topic = r.topic
                  AND f.kafka_partition = r.kafka_partition AND f.kafka_offset = r.kafka_offset)
ORDER BY r.topic, r.kafka_partition, r.kafka_offset
LIMIT %s
"""


class PostgresDlqLog:
    """Over its own short-lived transactions: never inside a batch's, never holding its locks."""

    def __init__(self, url: str, statement_timeout_ms: int = 10_000) -> None:
        self._url = url
        self._timeout_ms = statement_timeout_ms
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            self._conn = psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=10,
                application_name="procledger-consumer-dlq",
                options=f"-c statement_timeout={self._timeout_ms}",
            )
        return self._conn

    def mark_forwarded(self, keys: Collection[RecordKey]) -> None:
        """Record that Kafka confirmed these copies (a mark made twice is kept once)."""
        ordered = sorted(keys)
        try:
            self._connection().execute(
                "INSERT INTO ledger.dlq_forwarded (topic, kafka_partition, kafka_offset) "
                "SELECT * FROM unnest(%s::text[], %s::int[], %s::bigint[]) ON CONFLICT DO NOTHING",
                ([k[0] for k in ordered], [k[1] for k in ordered], [k[2] for k in ordered]),
            )
        except psycopg.Error as err:
            raise StoreUnavailable(f"cannot record forwarded dead-letter copies: {err}") from err

    def pending(
        self, partitions: Collection[TopicPartition], limit: int
    ) -> tuple[list[RejectionEntry], int]:
        """Up to `limit` unmarked rejections of `partitions` (oldest first), and their count."""
        if not partitions:
            return [], 0
        keys = ([t for t, _ in partitions], [p for _, p in partitions])
        try:
            with self._connection().cursor(row_factory=dict_row) as cur:
                rows = cur.execute(_PENDING, (*keys, limit)).fetchall()
        except psycopg.Error as err:
            raise StoreUnavailable(f"cannot read pending dead-letter copies: {err}") from err
        total = rows[0]["pending_total"] if rows else 0
        entries = [
            RejectionEntry(
                **{
                    **{k: v for k, v in row.items() if k != "pending_total"},
                    "raw_value": _bytes(row["raw_value"]),
                    "record_sha256": bytes(row["record_sha256"]),
                }
            )
            for row in rows
        ]
        return entries, int(total)

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _bytes(value: object) -> bytes | None:
    return None if value is None else bytes(value)  # type: ignore[call-overload]
