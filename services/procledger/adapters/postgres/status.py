"""Event status from the ledger over a read-only connection (the audit views, auditor role)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from procledger.publishing.status import EventStatus, Outcome, StatusUnavailable

# Applied wins: a re-sent event may also sit in rejections as DUPLICATE_EVENT. Of several
# rejections of one id (it was re-sent), the latest one tells what the sender did last.
_APPLIED = """
SELECT event_id, event_type, topic, kafka_partition, kafka_offset, recorded_at
FROM audit.journal WHERE event_id = ANY(%s)
"""
_REJECTED = """
SELECT DISTINCT ON (event_id) event_id, event_type, topic, kafka_partition, kafka_offset,
       recorded_at, reason_code, error
FROM audit.rejections WHERE event_id = ANY(%s)
ORDER BY event_id, recorded_at DESC, id DESC
"""
# Bounded: a wait loop asks again soon, a status request is answered or fails fast.
_CHUNK = 5_000


class PostgresStatusReader:
    """Looks event ids up in audit.journal and audit.rejections; one short connection per call."""

    def __init__(self, url: str, connect_timeout: int = 5, statement_timeout_ms: int = 5000):
        self._url = url
        self._connect_timeout = connect_timeout
        self._options = (
            f"-c statement_timeout={statement_timeout_ms} -c default_transaction_read_only=on"
        )

    def lookup(self, event_ids: Sequence[str]) -> dict[str, EventStatus]:
        if not event_ids:
            return {}
        found: dict[str, EventStatus] = {}
        try:
            with psycopg.connect(
                self._url,
                autocommit=True,
                connect_timeout=self._connect_timeout,
                options=self._options,
                application_name="procledger-status",
            ) as conn:
                for start in range(0, len(event_ids), _CHUNK):
                    chunk = list(event_ids[start : start + _CHUNK])
                    for row in conn.execute(_REJECTED, (chunk,)).fetchall():
                        found[row[0]] = _status(Outcome.REJECTED, row)
                    for row in conn.execute(_APPLIED, (chunk,)).fetchall():
                        found[row[0]] = _status(Outcome.APPLIED, row)
        except psycopg.Error as err:
            raise StatusUnavailable(f"cannot read event status from the ledger: {err}") from err
        return found


def _status(outcome: Outcome, row: tuple[Any, ...]) -> EventStatus:
    reason, message = (row[6], row[7]) if outcome is Outcome.REJECTED else (None, None)
    return EventStatus(
        event_id=row[0],
        status=outcome,
        event_type=row[1],
        topic=row[2],
        partition=row[3],
        offset=row[4],
        recorded_at=row[5],
        reason=reason,
        message=message,
    )
