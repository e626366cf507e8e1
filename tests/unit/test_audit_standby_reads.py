"""Reads a standby cancels are recognised, run again with a limit, and then named."""

from __future__ import annotations

from datetime import UTC, datetime

import psycopg
import pytest

from procledger.adapters.postgres import audit_reader
from procledger.adapters.postgres.audit_reader import AuditReadCancelled, retrying
from procledger.adapters.postgres.standby import DatabasePosition, is_recovery_conflict
from procledger.ledger.retry import RetryPolicy
from procledger.settings import Env
from procledger.settings.audit import AuditSettings

NO_WAIT = RetryPolicy(base_s=0.0, cap_s=0.0)


def test_recovery_conflicts_are_told_from_other_failures() -> None:
    conflict = psycopg.errors.SerializationFailure(
        "canceling statement due to conflict with recovery"
    )
    assert is_recovery_conflict(conflict)
    assert is_recovery_conflict(
        psycopg.errors.DatabaseDropped("terminating connection due to conflict with recovery")
    )
    # A serialization failure on a primary is not the standby's doing.
    assert not is_recovery_conflict(
        psycopg.errors.SerializationFailure("could not serialize access")
    )
    assert not is_recovery_conflict(ValueError("conflict with recovery"))


def test_a_cancelled_read_is_run_again_until_it_succeeds() -> None:
    attempts: list[int] = []

    def read() -> str:
        attempts.append(1)
        if len(attempts) < 3:
            raise AuditReadCancelled("the replica cancelled the read")
        return "answer"

    assert retrying(read, NO_WAIT) == "answer"
    assert len(attempts) == 3


def test_a_read_cancelled_every_time_gives_up_and_says_so() -> None:
    attempts: list[int] = []

    def read() -> str:
        attempts.append(1)
        raise AuditReadCancelled("the replica cancelled the read")

    with pytest.raises(AuditReadCancelled, match="cancelled 4 times in a row"):
        retrying(read, NO_WAIT)
    assert len(attempts) == audit_reader.READ_ATTEMPTS


def test_other_failures_are_not_retried() -> None:
    attempts: list[int] = []

    def read() -> str:
        attempts.append(1)
        raise audit_reader.AuditUnavailable("cannot connect")

    with pytest.raises(audit_reader.AuditUnavailable, match="cannot connect"):
        retrying(read, NO_WAIT)
    assert len(attempts) == 1


def test_positions_say_which_server_and_how_far_behind() -> None:
    primary = DatabasePosition(False, "0/3000148", None, 0.0)
    assert primary.describe() == "primary at WAL 0/3000148"
    assert primary.as_dict()["server"] == "primary"
    at = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    standby = DatabasePosition(True, "0/5000000", at, 1.25)
    assert standby.describe() == (
        "standby replayed to WAL 0/5000000 (last replayed commit "
        "2026-12-02T15:00:00.000000Z, replay lag 1.2s)"
    )
    assert standby.as_dict() == {
        "server": "standby",
        "wal_lsn": "0/5000000",
        "last_replayed_commit_at": "2026-12-02T15:00:00.000000Z",
        "replay_lag_s": 1.25,
    }


def test_audit_reads_the_primary_unless_a_read_url_is_given() -> None:
    primary = "postgresql://procledger_auditor:secret@db-primary:5432/procledger"
    replica = "postgresql://procledger_auditor:secret@db-replica:5432/procledger"
    alone = AuditSettings.from_env(Env({"AUDIT_DATABASE_URL": primary}))
    assert (alone.read_url, alone.read_variable) == (primary, "AUDIT_DATABASE_URL")
    both = AuditSettings.from_env(
        Env({"AUDIT_DATABASE_URL": primary, "AUDIT_READ_DATABASE_URL": replica})
    )
    assert (both.database_url, both.read_url) == (primary, replica)
    assert both.read_variable == "AUDIT_READ_DATABASE_URL"
    assert "secret" not in repr(both)
