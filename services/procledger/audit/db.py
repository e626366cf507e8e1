"""Read-only connections as the auditor role, and the values the views return, typed."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import IsolationLevel

from procledger.codec.jsonform import instant_text
from procledger.domain.money import cents_str

Connection = psycopg.Connection[Any]
JSONValue = str | int | bool | None | list[Any] | dict[str, Any]


class AuditUnavailable(RuntimeError):
    """The database could not be reached or refused the auditor; the message says why."""


@contextmanager
def connect(url: str) -> Iterator[Connection]:
    """One read-only REPEATABLE READ transaction: every query of a command sees one snapshot."""
    try:
        conn = psycopg.connect(url, application_name="procledger-audit", connect_timeout=10)
    except psycopg.OperationalError as err:
        raise AuditUnavailable(f"cannot connect to the audit database: {err}") from err
    try:
        conn.isolation_level = IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.transaction():
            yield conn
    except psycopg.errors.InsufficientPrivilege as err:
        raise AuditUnavailable(f"the audit role may not read this: {err}") from err
    except psycopg.errors.UndefinedTable as err:
        raise AuditUnavailable(
            f"the audit views are missing (run `procledger db migrate`): {err}"
        ) from err
    except psycopg.OperationalError as err:  # the server went away mid-query
        raise AuditUnavailable(f"lost the audit database: {err}") from err
    finally:
        conn.close()


@dataclass(frozen=True, slots=True)
class JournalRow:
    """One row of audit.journal, every column the hash covers plus id, prev_hash and hash."""

    id: int
    event_id: str
    event_type: str
    order_id: str | None
    payload: Mapping[str, object]
    writer_fingerprint: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    topic: str
    partition: int
    offset: int
    kafka_timestamp: datetime | None
    record_sha256: bytes
    prev_hash: bytes
    hash: bytes

    def hashed_fields(self) -> dict[str, Any]:
        """The keyword arguments of domain.chain.entry_hash."""
        return {
            "event_id": self.event_id,
            "event_type": self.event_type,
            "order_id": self.order_id,
            "payload": self.payload,
            "writer_fingerprint": self.writer_fingerprint,
            "schema_version": self.schema_version,
            "occurred_at": self.occurred_at,
            "recorded_at": self.recorded_at,
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "kafka_timestamp": self.kafka_timestamp,
            "record_sha256": self.record_sha256,
        }

    def where(self) -> str:
        """How reports name the row: id, coordinates and event."""
        where = f"{self.topic}[{self.partition}]@{self.offset}"
        return f"journal row {self.id} ({where}, event {self.event_id})"


JOURNAL_SELECT = (
    "SELECT id, event_id, event_type, order_id, payload, writer_fingerprint, schema_version, "
    "occurred_at, recorded_at, topic, kafka_partition, kafka_offset, kafka_timestamp, "
    "record_sha256, prev_hash, hash FROM audit.journal"
)


def journal_row(row: tuple[Any, ...]) -> JournalRow:
    """A JournalRow from a JOURNAL_SELECT tuple (bytea arrives as memoryview or bytes)."""
    values = list(row)
    for i in (13, 14, 15):
        values[i] = bytes(values[i])
    return JournalRow(*values)


def ts(value: datetime | None) -> str | None:
    """Instants as JSON and CSV carry them: UTC, microseconds, Z."""
    return None if value is None else instant_text(value)


def money(value: Decimal | None) -> str | None:
    """Money as a decimal string with exactly two places."""
    return None if value is None else cents_str(value)


def fixed(value: Decimal, places: int) -> str:
    """A decimal at a fixed scale (unit prices: 4, rates: 8), the columns' own scale."""
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")
