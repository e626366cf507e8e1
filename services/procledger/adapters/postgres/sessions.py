"""Consumer sessions in PostgreSQL: their time limits, and ending those a frozen consumer left."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import psycopg

log = logging.getLogger(__name__)

APPLICATION_NAME = "procledger-consumer"


@dataclass(frozen=True, slots=True)
class SessionLimits:
    """Why these limits: a consumer frozen inside a batch (SIGSTOP, a VM pause, a debugger)
    keeps its transaction and the position rows it locked, and the members the group gave its
    partitions to would wait on those locks for ever.

    - `idle_s`: the server ends a session idle in a transaction this long. A batch does far
      less than this between two statements, so only a frozen member is caught.
    - `statement_s`: no statement of a batch takes near this; a cancelled one is retried.
    - `lock_wait_s`: longer than `idle_s`, so the server's own limit acts first. It is not
      always enough: frozen in the middle of a COPY or after sending part of a message, the
      session waits inside a read of its client where PostgreSQL 15 acts on neither limit
      (seen in the fault suite: held for minutes, shown as active or idle in a transaction).
      A member whose lock wait runs out ends such sessions itself.
    """

    idle_s: float = 20.0
    statement_s: float = 60.0
    lock_wait_s: float = 25.0

    def options(self) -> str:
        """The libpq `options` setting these limits for the session (milliseconds)."""
        return (
            f"-c idle_in_transaction_session_timeout={round(self.idle_s * 1000)} "
            f"-c statement_timeout={round(self.statement_s * 1000)} "
            f"-c lock_timeout={round(self.lock_wait_s * 1000)}"
        )


# Only consumer sessions of this database and role (which it may signal without any extra
# privilege) that have waited on their client inside a transaction for longer than the idle
# limit: idle between statements, or in a statement reading from the client (COPY). The
# candidates are materialised first: SQL does not promise to test the other conditions before
# a pg_terminate_backend() beside them in one WHERE clause.
_END_FROZEN = """
WITH frozen AS MATERIALIZED (
    SELECT pid FROM pg_stat_activity
    WHERE datname = current_database() AND usename = current_user
      AND application_name = %s AND pid <> pg_backend_pid()
      AND (state IN ('idle in transaction', 'idle in transaction (aborted)')
           OR (state = 'active' AND wait_event = 'ClientRead'))
      AND state_change < now() - make_interval(secs => %s)
)
SELECT pid FROM frozen WHERE pg_terminate_backend(pid)
"""


def end_frozen_sessions(conn: psycopg.Connection[Any], limits: SessionLimits) -> list[int]:
    """End other consumers' sessions stuck on their client past `limits.idle_s`; their pids.

    Safe for the ledger: the ended transaction rolls back as a whole, and its consumer, if
    it ever resumes, reconnects and finds the positions moved on (it writes nothing twice).
    """
    with conn.transaction():
        rows = conn.execute(_END_FROZEN, (APPLICATION_NAME, limits.idle_s)).fetchall()
    pids = [int(pid) for (pid,) in rows]
    if pids:
        log.warning(
            "ended PostgreSQL session(s) %s: waiting on their client in a transaction for over "
            "%g s (a frozen consumer holding partition locks; its batch rolls back)",
            pids,
            limits.idle_s,
        )
    return pids
