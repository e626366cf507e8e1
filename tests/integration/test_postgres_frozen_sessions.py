"""A consumer frozen mid-batch cannot hold its partitions' locks for ever (PostgresLedgerStore)."""

from __future__ import annotations

import contextlib
import time

import psycopg
import pytest

from procledger.adapters.postgres.sessions import APPLICATION_NAME, SessionLimits
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.ledger.ports import StoreUnavailable
from tests.plugins.ledger import LedgerEnv

PARTITION = ("frozen.orders", 0)


def _holder(ledger: LedgerEnv, application_name: str) -> psycopg.Connection[object]:
    """Another session that locks the partition's position row and then sends nothing more.

    Its own idle limit is switched off: that models the case the server cannot end by itself
    (a client frozen after sending part of a message), which the waiting member must handle.
    """
    store = PostgresLedgerStore(ledger.database.url)
    with store.transaction() as tx:
        tx.lock_positions({PARTITION})  # creates the row
    store.close()
    conn: psycopg.Connection[object] = psycopg.connect(
        ledger.database.url, application_name=application_name,
        options="-c idle_in_transaction_session_timeout=0",
    )  # fmt: skip
    conn.execute("CREATE TEMP TABLE frozen_copy (line text)")
    conn.execute(
        "SELECT 1 FROM ledger.positions WHERE topic = %s AND kafka_partition = %s FOR UPDATE",
        PARTITION,
    )
    return conn


def _session_ends(ledger: LedgerEnv, pid: int) -> bool:
    with psycopg.connect(ledger.database.url) as probe:
        for _ in range(50):  # the backend leaves the list just after it releases its locks
            row = probe.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", (pid,))
            if row.fetchone() == (0,):
                return True
            time.sleep(0.1)
    return False


def _lock(store: PostgresLedgerStore) -> int:
    with store.transaction() as tx:
        return tx.lock_positions({PARTITION})[PARTITION].next_offset


@pytest.mark.parametrize("mid_copy", [False, True], ids=["between statements", "mid-COPY"])
def test_the_waiting_member_ends_a_consumer_session_frozen_in_its_transaction(
    ledger: LedgerEnv, mid_copy: bool
) -> None:
    frozen = _holder(ledger, APPLICATION_NAME)
    frozen_pid = frozen.info.backend_pid
    store = PostgresLedgerStore(
        ledger.database.url, SessionLimits(idle_s=0.5, statement_s=30, lock_wait_s=1.5)
    )
    with contextlib.ExitStack() as stack:
        stack.callback(frozen.close)
        stack.callback(store.close)
        if mid_copy:
            # Frozen mid-batch as the fault suite saw it: COPY begun, no row or end sent.
            # (Leaving the COPY afterwards fails: the server has ended the session.)
            stack.enter_context(contextlib.suppress(psycopg.OperationalError))
            cursor = stack.enter_context(frozen.cursor())
            stack.enter_context(cursor.copy("COPY pg_temp.frozen_copy FROM STDIN"))
        ended = rf"ended frozen consumer session\(s\) \[{frozen_pid}\]"
        with pytest.raises(StoreUnavailable, match=ended):
            _lock(store)
        # The consumer's retry gets the partition; the frozen session is gone, its batch undone.
        assert _lock(store) == 0
        assert _session_ends(ledger, frozen_pid)


@pytest.mark.parametrize(
    ("application_name", "idle_s"),
    [
        (APPLICATION_NAME, 600.0),  # a member inside its idle limit: only slow, not frozen
        ("procledger-audit", 0.5),  # not a consumer: never this consumer's to end
    ],
)
def test_a_session_that_is_not_a_frozen_consumer_is_left_alone(
    ledger: LedgerEnv, application_name: str, idle_s: float
) -> None:
    holder = _holder(ledger, application_name)
    store = PostgresLedgerStore(
        ledger.database.url, SessionLimits(idle_s=idle_s, statement_s=30, lock_wait_s=1.5)
    )
    try:
        with pytest.raises(StoreUnavailable, match=r"still held after 1.5 s$"):
            _lock(store)
        holder.commit()  # still alive, its transaction intact
        assert _lock(store) == 0
    finally:
        store.close()
        holder.close()
