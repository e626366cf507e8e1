"""PostgresLedgerStore: one transaction per batch, its positions locked and its state read
in one round trip; the rows go through writes.py."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg

from procledger.adapters.postgres.rows import ORDER_COLUMN_LIST, order_from_row, text_array
from procledger.adapters.postgres.sessions import (
    APPLICATION_NAME,
    SessionLimits,
    end_frozen_sessions,
)
from procledger.adapters.postgres.writes import write_batch
from procledger.domain.chain import GENESIS, canonical_payload
from procledger.domain.state import LedgerState, Order, StockpileTarget
from procledger.ledger.ports import (
    BatchWrite,
    EventJournaled,
    LedgerTransaction,
    Position,
    SealedPast,
    StateKeys,
    StoreConflict,
    StoreUnavailable,
    TopicPartition,
)

log = logging.getLogger(__name__)


class _PostgresTransaction:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def lock_positions(
        self, partitions: Collection[TopicPartition], recorded_at: datetime | None = None
    ) -> dict[TopicPartition, Position]:
        return self.lock_and_load(partitions, _NO_KEYS, recorded_at)[0]

    def load_state(self, keys: StateKeys) -> LedgerState:
        return self.lock_and_load((), keys)[1]

    def lock_and_load(
        self,
        partitions: Collection[TopicPartition],
        keys: StateKeys,
        recorded_at: datetime | None = None,
    ) -> tuple[dict[TopicPartition, Position], LedgerState]:
        ordered = sorted(partitions)
        dict_row = psycopg.rows.dict_row
        # Every statement goes out in one round trip (pipeline mode): a small batch's
        # transaction is mostly round trips, and each one waits for a busy core to run the
        # server again. The server runs them in order, so the reads start once the positions
        # are locked, and each (READ COMMITTED) sees every batch committed before the lock.
        with (
            self._conn.pipeline(),
            self._conn.cursor() as lock,
            self._conn.cursor(row_factory=dict_row) as by_order,
            self._conn.cursor(row_factory=dict_row) as by_event,
            self._conn.cursor(row_factory=dict_row) as by_target,
        ):
            if ordered:
                self._queue_lock(lock, ordered, recorded_at)
            _queue_reads(by_order, by_event, by_target, keys)
            positions = (
                {(t, p): Position(o, bytes(h)) for t, p, o, h in lock.fetchall()} if ordered else {}
            )
            return positions, _read_state(by_order, by_event, by_target, keys)

    def _queue_lock(
        self,
        cur: psycopg.Cursor[Any],
        ordered: list[TopicPartition],
        recorded_at: datetime | None,
    ) -> None:
        keys = ([t for t, _ in ordered], [p for _, p in ordered])
        cur.execute(
            "INSERT INTO ledger.positions (topic, kafka_partition, next_offset, chain_head) "
            "SELECT t, p, 0, %s FROM unnest(%s::text[], %s::int[]) AS u(t, p) "
            "ORDER BY t, p ON CONFLICT DO NOTHING",
            (GENESIS, *keys),
        )
        # A fixed lock order: two consumers locking overlapping sets never deadlock.
        cur.execute(
            "SELECT topic, kafka_partition, next_offset, chain_head FROM ledger.positions "
            "WHERE (topic, kafka_partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) "
            "ORDER BY topic, kafka_partition FOR UPDATE",
            keys,
        )
        if recorded_at is not None:
            # After the lock, which gave this transaction an id: a checkpoint sealed from
            # here on waits for it; one sealed before is seen here (0012). Same round trip.
            self._conn.execute("SELECT ledger.refuse_sealed(%s)", (recorded_at,))

    def write(self, batch: BatchWrite) -> None:
        write_batch(self._conn, batch)


_NO_KEYS = StateKeys((), (), ())


def _queue_reads(
    by_order: psycopg.Cursor[Any],
    by_event: psycopg.Cursor[Any],
    by_target: psycopg.Cursor[Any],
    keys: StateKeys,
) -> None:
    """The three reads of a batch's state, queued in the caller's pipeline.

    Never prepared (`prepare=False`): psycopg prepares a statement run five times, and
    PostgreSQL may then keep one generic plan for it. Planned while the ledger was small, that
    plan read whole tables (`order_id = ANY($1)` by sequential scan: 2.3 million rows read for
    20,000 events in one benchmark run) and was kept as they grew. Unprepared, each lookup is
    planned for its own arguments. The other statements' plans do not depend on the ledger's
    size, and they are prepared: planning them anew was a quarter of a small batch's
    statement time (docs/benchmarks/stages.md).
    """
    if keys.order_ids:
        by_order.execute(
            f"SELECT {ORDER_COLUMN_LIST} FROM ledger.orders WHERE order_id = ANY(%s::text[])",
            (text_array(keys.order_ids),),
            prepare=False,
        )
    if keys.event_ids:
        by_event.execute(
            "SELECT event_id, event_type, payload FROM ledger.journal "
            "WHERE event_id = ANY(%s::text[])",
            (text_array(keys.event_ids),),
            prepare=False,
        )
    if keys.target_keys:
        by_target.execute(
            "SELECT country, caliber_mm, target_quantity, authority, set_at "
            "FROM ledger.stockpile_targets WHERE (country, caliber_mm) IN "
            "(SELECT * FROM unnest(%s::text[], %s::int[]))",
            ([c for c, _ in keys.target_keys], [k for _, k in keys.target_keys]),
            prepare=False,
        )


def _read_state(
    by_order: psycopg.Cursor[Any],
    by_event: psycopg.Cursor[Any],
    by_target: psycopg.Cursor[Any],
    keys: StateKeys,
) -> LedgerState:
    """The state _queue_reads() asked for (its cursors have dict rows)."""
    orders: dict[str, Order] = {}
    targets: dict[tuple[str, int], StockpileTarget] = {}
    content: dict[str, tuple[str, str]] = {}
    if keys.order_ids:
        orders = {row["order_id"]: order_from_row(row) for row in by_order.fetchall()}
    if keys.event_ids:
        for row in by_event.fetchall():
            content[row["event_id"]] = (row["event_type"], canonical_payload(row["payload"]))
    if keys.target_keys:
        for row in by_target.fetchall():
            target = StockpileTarget(**row)
            targets[(target.country, target.caliber_mm)] = target
    return LedgerState(
        orders=orders, targets=targets, seen_event_ids=frozenset(content), journaled_content=content
    )


def _close_unless_idle(conn: psycopg.Connection[Any]) -> None:
    """Close a connection that a batch left anywhere but idle, so the next one connects anew.

    A batch that fails half-way can leave its connection open yet unusable: in a chaos run, a
    fast shutdown of PostgreSQL left one in pipeline mode with a result still due, its
    rollback failed, and every later batch failed on it ("PQsendQuery not allowed in pipeline
    mode") for five minutes, until the group gave its partitions away. A closed connection
    is replaced by _connection(); the server rolls back whatever it still held.
    """
    if conn.closed:
        return
    if (
        conn.broken
        or conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE
        or conn.pgconn.pipeline_status != psycopg.pq.PipelineStatus.OFF
    ):
        conn.close()


class PostgresLedgerStore:
    """The ledger in PostgreSQL; reconnects after the server restarts."""

    def __init__(self, url: str, limits: SessionLimits | None = None) -> None:
        self._url = url
        self._limits = limits or SessionLimits()
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                conn = psycopg.connect(
                    self._url,
                    application_name=APPLICATION_NAME,
                    options=self._limits.options(),
                )
                # The orders' staging table, once per session (not per batch): it lives as
                # long as the connection and empties itself at every commit.
                conn.execute(
                    "CREATE TEMP TABLE IF NOT EXISTS orders_stage "
                    "(LIKE ledger.orders INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
                conn.commit()
            except psycopg.OperationalError as err:
                raise StoreUnavailable(f"cannot connect to PostgreSQL: {err}") from err
            self._conn = conn
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        conn = self._connection()
        try:
            with conn.transaction():
                yield _PostgresTransaction(conn)
        except psycopg.errors.LockNotAvailable as err:
            ended = self._end_frozen_sessions()
            raise StoreUnavailable(
                f"partition locks still held after {self._limits.lock_wait_s:g} s"
                + (f"; ended frozen consumer session(s) {ended}" if ended else "")
            ) from err
        except psycopg.errors.DiskFull as err:
            # The server runs but cannot grow a file; the batch rolled back whole. Only freed
            # space helps, so it waits like an outage (never a rejection, never a crash).
            raise StoreUnavailable(f"PostgreSQL is out of disk space: {err}") from err
        # Before OperationalError, of which psycopg makes both a subclass (TransactionRollback).
        except psycopg.errors.SerializationFailure as err:
            if err.diag.constraint_name == "checkpoint_seal":  # ledger.refuse_sealed (0012)
                raise SealedPast(" ".join(str(err).split())) from err
            raise StoreConflict(f"serialization conflict: {err}") from err
        except psycopg.errors.DeadlockDetected as err:
            raise StoreConflict(f"deadlock: {err}") from err
        except (psycopg.OperationalError, psycopg.errors.IdleInTransactionSessionTimeout) as err:
            # The second: this process was frozen mid-batch and the server ended its session.
            raise StoreUnavailable(f"PostgreSQL failed during the batch: {err}") from err
        except psycopg.errors.UniqueViolation as err:
            if err.diag.constraint_name == "journal_event_id_key":
                # The batch was applied without looking its event ids up (apply_batch), or a
                # concurrent consumer journaled the same id first: a lookup finds it.
                raise EventJournaled(f"event id already journaled: {err}") from err
            raise StoreConflict(f"concurrent duplicate: {err}") from err
        finally:
            _close_unless_idle(conn)

    def _end_frozen_sessions(self) -> list[int]:
        try:
            return end_frozen_sessions(self._connection(), self._limits)
        except (psycopg.Error, StoreUnavailable) as err:  # the retry comes back here anyway
            log.warning("could not look for frozen consumer sessions: %s", err)
            return []

    def positions(self) -> dict[TopicPartition, Position]:
        conn = self._connection()
        try:
            with conn.transaction():
                rows = conn.execute(
                    "SELECT topic, kafka_partition, next_offset, chain_head FROM ledger.positions"
                ).fetchall()
        except psycopg.OperationalError as err:
            raise StoreUnavailable(f"cannot read positions: {err}") from err
        return {(t, p): Position(o, bytes(h)) for t, p, o, h in rows}

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
