"""A batch that fails half-way never hands its connection to the next one (PostgresLedgerStore).

The faults are injected into the store's own connection (its `_conn`, the only handle on
it): the state a fast shutdown of PostgreSQL left it in during a chaos run, and a session
the server ends.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.domain.chain import GENESIS
from procledger.ledger.ports import LedgerTransaction, StoreUnavailable
from tests.plugins.ledger import LedgerEnv

PARTITION = ("recovery.orders", 0)


class BatchFailed(Exception):
    """The failing batch's own error."""


def _connection(tx: LedgerTransaction) -> psycopg.Connection[Any]:
    conn: psycopg.Connection[Any] = tx._conn  # type: ignore[attr-defined]
    return conn


def _next_batch_works(store: PostgresLedgerStore) -> None:
    for _ in range(2):
        with store.transaction() as tx:
            position = tx.lock_positions({PARTITION})[PARTITION]
        assert (position.next_offset, position.chain_head) == (0, GENESIS)


def test_a_connection_left_in_pipeline_mode_is_replaced(ledger: LedgerEnv) -> None:
    """As in the chaos run: the connection in pipeline mode with a result still due, so its
    rollback fails; before the fix every later batch failed with "PQsendQuery not allowed in
    pipeline mode" until the process was stopped."""
    store = PostgresLedgerStore(ledger.database.url)
    try:
        with pytest.raises(BatchFailed), store.transaction() as tx:
            tx.lock_positions({PARTITION})
            pgconn = _connection(tx).pgconn
            pgconn.enter_pipeline_mode()
            pgconn.send_query_params(b"SELECT 1", None)
            pgconn.pipeline_sync()
            raise BatchFailed
        _next_batch_works(store)
    finally:
        store.close()


def test_a_session_the_server_ended_is_replaced(ledger: LedgerEnv) -> None:
    store = PostgresLedgerStore(ledger.database.url)
    try:
        with pytest.raises(StoreUnavailable), store.transaction() as tx:
            tx.lock_positions({PARTITION})
            pid = _connection(tx).info.backend_pid
            with psycopg.connect(ledger.env["DATABASE_ADMIN_URL"], autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
            tx.lock_positions({PARTITION})
        _next_batch_works(store)
    finally:
        store.close()


def test_batches_that_succeed_or_fail_cleanly_keep_their_connection(ledger: LedgerEnv) -> None:
    """Replacing the connection is for a broken one only: a batch that rolled back cleanly
    (here, its own error after its statements) leaves it idle, and it is used again."""
    store = PostgresLedgerStore(ledger.database.url)
    try:
        pids = []
        for fail in (False, True, False):
            try:
                with store.transaction() as tx:
                    tx.lock_positions({PARTITION})
                    pids.append(_connection(tx).info.backend_pid)
                    if fail:
                        raise BatchFailed
            except BatchFailed:
                pass
        assert len(set(pids)) == 1, pids
    finally:
        store.close()
