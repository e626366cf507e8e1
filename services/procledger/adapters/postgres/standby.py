"""Reading from a hot standby: how far it has replayed, and the reads it cancels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from procledger.domain.chain import instant_text

# One statement, so it is the one that takes a REPEATABLE READ transaction's snapshot when it
# comes first: the replay position it reads is where the standby stood as that snapshot was
# taken (or a little later, never earlier). The lag is 0 once the standby has replayed all
# the WAL it received; otherwise the age of the last transaction it replayed.
POSITION_SQL = (
    "SELECT pg_is_in_recovery(), "
    "(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() "
    "ELSE pg_current_wal_lsn() END)::text, "
    "pg_last_xact_replay_timestamp(), "
    "CASE WHEN NOT pg_is_in_recovery() THEN 0 "
    "WHEN pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn() THEN 0 "
    "ELSE coalesce(extract(epoch FROM clock_timestamp() - pg_last_xact_replay_timestamp()), 0) "
    "END::float8"
)
# What a standby answers when replaying the primary's WAL needs something a query holds:
# 40001 "canceling statement due to conflict with recovery" (or "terminating connection"),
# 57P04 when the database itself was dropped on the primary.
_CONFLICT_STATES = frozenset({"40001", "57P04"})


class StandbyNotWritable(ValueError):
    """A writer's URL points at a hot standby (a replica), which refuses every write."""


def refuse_standby(conn: psycopg.Connection[Any], variable: str, writer: str) -> None:
    """Raise StandbyNotWritable, naming `variable`, when `conn` is to a standby: a writer
    started against a replica would otherwise fail on its first write, deep in its work."""
    row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
    if row is not None and row[0]:
        raise StandbyNotWritable(
            f"{variable} points at a read-only standby (a streaming replica, in recovery): "
            f"{writer} writes and must connect to the primary"
        )


@dataclass(frozen=True, slots=True)
class DatabasePosition:
    """Where a server's data stands: the primary's WAL position, or a standby's replay."""

    standby: bool
    wal_lsn: str
    last_replayed_commit_at: datetime | None
    replay_lag_s: float

    def as_dict(self) -> dict[str, Any]:
        replayed = self.last_replayed_commit_at
        return {
            "server": "standby" if self.standby else "primary",
            "wal_lsn": self.wal_lsn,
            "last_replayed_commit_at": None if replayed is None else instant_text(replayed),
            "replay_lag_s": round(self.replay_lag_s, 3),
        }

    def describe(self) -> str:
        if not self.standby:
            return f"primary at WAL {self.wal_lsn}"
        replayed = self.last_replayed_commit_at
        commit = "none yet" if replayed is None else instant_text(replayed)
        return (
            f"standby replayed to WAL {self.wal_lsn} (last replayed commit {commit}, "
            f"replay lag {self.replay_lag_s:.1f}s)"
        )


def read_position(conn: psycopg.Connection[Any]) -> DatabasePosition:
    """The server's position; run first in a transaction, it also dates that snapshot."""
    row = conn.execute(POSITION_SQL).fetchone()
    assert row is not None  # a SELECT without FROM returns one row
    standby, lsn, replayed, lag = row
    return DatabasePosition(bool(standby), str(lsn), replayed, float(lag))


def is_recovery_conflict(err: BaseException) -> bool:
    """A standby cancelled the read (or ended its session) to go on replaying the primary's
    changes: transient, the same read again usually succeeds."""
    return (
        isinstance(err, psycopg.Error)
        and err.sqlstate in _CONFLICT_STATES
        and "conflict with recovery" in str(err)
    )
