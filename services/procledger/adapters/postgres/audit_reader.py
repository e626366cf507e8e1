"""Read-only connections as the auditor role, and the values the views return, typed."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar

import psycopg
from psycopg import IsolationLevel

from procledger.adapters.postgres.standby import is_recovery_conflict
from procledger.domain.chain import instant_text
from procledger.domain.money import cents_str
from procledger.domain.values import immutable
from procledger.ledger.ports import JOURNAL_FIELD_COLUMNS, JournalEntry
from procledger.ledger.retry import RetryPolicy

Connection = psycopg.Connection[Any]
JSONValue = str | int | bool | None | list[Any] | dict[str, Any]
T = TypeVar("T")
log = logging.getLogger("procledger.audit")
READ_ATTEMPTS = 4  # a read a standby cancels is run again up to 3 more times


class AuditUnavailable(RuntimeError):
    """The database could not be reached or refused the auditor; the message says why."""


class AuditReadCancelled(AuditUnavailable):
    """A standby cancelled the read to go on replaying the primary's changes (a recovery
    conflict): nothing is wrong with the ledger, and the read may be run again."""


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
            # JIT compiled the time-travel reads (costed high: index probes repeated per
            # order) for longer than they ran: 235 ms of a 766 ms read at 2,000,000 rows.
            # A cursor is planned for its first tenth by default; ours are read to the end,
            # and the fast start (the id index, filtered) read a whole 2,000,000-row journal
            # for its 6,407 target rows in 1.1 s, against 50 ms by the order index.
            conn.execute(
                "SELECT set_config('jit', 'off', true),"
                " set_config('cursor_tuple_fraction', '1', true)"
            )
            yield conn
    except (psycopg.errors.SerializationFailure, psycopg.errors.DatabaseDropped) as err:
        if is_recovery_conflict(err):
            raise AuditReadCancelled(
                f"the replica cancelled the read to replay the primary's changes: {err}"
            ) from err
        raise AuditUnavailable(f"the audit database refused the read: {err}") from err
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


def retrying(read: Callable[[], T], policy: RetryPolicy | None = None) -> T:
    """Run `read` (a whole connect-and-query), again after jittered backoff when a standby
    cancelled it, at most READ_ATTEMPTS times; then the cancellation is the error."""
    policy = policy or RetryPolicy(base_s=0.5, cap_s=8.0)
    for attempt in range(READ_ATTEMPTS):
        try:
            return read()
        except AuditReadCancelled as err:
            if attempt == READ_ATTEMPTS - 1:
                raise AuditReadCancelled(
                    f"{err} (cancelled {READ_ATTEMPTS} times in a row; the replica's "
                    "max_standby_streaming_delay bounds how long replay waits for a read)"
                ) from err
            delay = policy.delay(attempt + 1)
            log.warning("%s; reading again in %.1fs", err, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises


@immutable(kw_only=True)
class JournalRow(JournalEntry):
    """One row of audit.journal: a journal entry and its id (the commit order)."""

    id: int

    def where(self) -> str:
        """How reports name the row: id, coordinates and event."""
        where = f"{self.topic}[{self.partition}]@{self.offset}"
        return f"journal row {self.id} ({where}, event {self.event_id})"


_FIELDS = ("id", *JOURNAL_FIELD_COLUMNS)
_BYTES = {"record_sha256", "prev_hash", "hash"}  # bytea arrives as memoryview or bytes
JOURNAL_SELECT = f"SELECT id, {', '.join(JOURNAL_FIELD_COLUMNS.values())} FROM audit.journal"


def journal_row(row: Sequence[Any]) -> JournalRow:
    """A JournalRow from a row that starts with JOURNAL_SELECT's columns (more may follow)."""
    values = dict(zip(_FIELDS, row, strict=False))
    for name in _BYTES:
        values[name] = bytes(values[name])
    return JournalRow(**values)


def ts(value: datetime | None) -> str | None:
    """Instants as JSON and CSV carry them: UTC, microseconds, Z."""
    return None if value is None else instant_text(value)


def journal_json(row: JournalRow) -> dict[str, JSONValue]:
    """A journal row as the audit shows it in JSON: instants as text, digests in hex."""
    return {
        "id": row.id,
        "event_id": row.event_id,
        "event_type": row.event_type,
        "order_id": row.order_id,
        "occurred_at": ts(row.occurred_at),
        "recorded_at": ts(row.recorded_at),
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "kafka_timestamp": ts(row.kafka_timestamp),
        "writer_fingerprint": row.writer_fingerprint,
        "schema_version": row.schema_version,
        "record_sha256": row.record_sha256.hex(),
        "prev_hash": row.prev_hash.hex(),
        "hash": row.hash.hex(),
        "payload": dict(row.payload),
    }


def money(value: Decimal | None) -> str | None:
    """Money as a decimal string with exactly two places."""
    return None if value is None else cents_str(value)


def fixed(value: Decimal, places: int) -> str:
    """A decimal at a fixed scale (unit prices: 4, rates: 8), the columns' own scale."""
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")
