"""Read-only connections as the auditor role, and the values the views return, typed."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg import IsolationLevel

from procledger.domain.chain import instant_text
from procledger.domain.money import cents_str
from procledger.domain.values import immutable
from procledger.ledger.ports import JOURNAL_FIELD_COLUMNS, JournalEntry

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


def money(value: Decimal | None) -> str | None:
    """Money as a decimal string with exactly two places."""
    return None if value is None else cents_str(value)


def fixed(value: Decimal, places: int) -> str:
    """A decimal at a fixed scale (unit prices: 4, rates: 8), the columns' own scale."""
    return format(value.quantize(Decimal(1).scaleb(-places)), "f")
