"""PostgresLedgerStore: one transaction per batch, COPY for history, set-based upserts."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from procledger.adapters.postgres.rows import (
    ENTRY_COLUMNS,
    ENTRY_TYPES,
    JOURNAL_COLUMNS,
    JOURNAL_TYPES,
    ORDER_COLUMNS,
    REJECTION_COLUMNS,
    InstantTexts,
    entry_rows,
    journal_to_row,
    json_records,
    order_from_row,
    order_to_row,
    text_array,
)
from procledger.adapters.postgres.sessions import (
    APPLICATION_NAME,
    SessionLimits,
    end_frozen_sessions,
)
from procledger.domain.chain import GENESIS, canonical_payload
from procledger.domain.state import LedgerState, Order, StockpileTarget
from procledger.ledger.ports import (
    JOURNAL_FIELD_COLUMNS,
    BatchWrite,
    LedgerTransaction,
    Position,
    SealedPast,
    StalePosition,
    StateKeys,
    StoreConflict,
    StoreUnavailable,
    TopicPartition,
)

log = logging.getLogger(__name__)

_ORDER_COLS_SQL = ", ".join(ORDER_COLUMNS)
_ORDER_UPDATE_SQL = ", ".join(f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS if c != "order_id")

# A batch of at most this many journal rows (and no rejection) goes out as INSERTs queued in
# one pipeline with the rest of its writes: one round trip instead of seven, for about the
# same CPU per row at this size (stages harness, 50-event batches); past it COPY costs less.
# Caught up, the consumer's batches are small, and each round trip of theirs is latency.
PIPELINED_ROWS = 50

# psycopg prepares a statement run five times, and PostgreSQL may then keep one generic plan
# for it. Planned while the ledger is small, that plan reads whole tables (`order_id =
# ANY($1)` by sequential scan: 2.3 million rows read for 20,000 events in one benchmark run)
# and is kept as they grow. Each batch's lookups are planned for their own arguments instead.
PLANNING = "-c plan_cache_mode=force_custom_plan"


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
        orders = [order_to_row(batch.state.orders[o]) for o in sorted(batch.touched_orders)]
        targets = [batch.state.targets[k] for k in sorted(batch.touched_targets)]
        inserted = len(batch.journal) <= PIPELINED_ROWS and not batch.rejections
        if not inserted:
            self._copy(batch, orders)
        # COPY cannot be pipelined; the statements after it go out in one round trip.
        with self._conn.pipeline(), self._conn.cursor() as cur:
            if inserted:
                self._insert(cur, batch)
            if orders:
                source = (
                    "json_populate_recordset(NULL::ledger.orders, %s::json)"
                    if inserted
                    else "orders_stage"
                )
                cur.execute(
                    f"INSERT INTO ledger.orders ({_ORDER_COLS_SQL}) "
                    f"SELECT {_ORDER_COLS_SQL} FROM {source} "
                    f"ON CONFLICT (order_id) DO UPDATE SET {_ORDER_UPDATE_SQL}",
                    (json_records(ORDER_COLUMNS, orders),) if inserted else None,
                )
            if targets:
                cur.executemany(
                    "INSERT INTO ledger.stockpile_targets "
                    "(country, caliber_mm, target_quantity, authority, set_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (country, caliber_mm) DO UPDATE SET "
                    "target_quantity = EXCLUDED.target_quantity, "
                    "authority = EXCLUDED.authority, set_at = EXCLUDED.set_at",
                    [
                        (t.country, t.caliber_mm, t.target_quantity, t.authority, t.set_at)
                        for t in targets
                    ],
                )
            self._move_positions(cur, batch)

    def _insert(self, cur: psycopg.Cursor[Any], batch: BatchWrite) -> None:
        """A small batch's journal rows and entries as INSERTs, queued in the caller's pipeline:
        the same rows COPY would send, as JSON records each column parses from the same text."""
        if batch.journal:
            texts = InstantTexts()
            rows = (journal_to_row(j, texts) for j in batch.journal)
            cur.execute(
                f"INSERT INTO ledger.journal ({JOURNAL_COLUMNS}) SELECT {JOURNAL_COLUMNS} "
                "FROM json_populate_recordset(NULL::ledger.journal, %s::json)",
                (json_records(JOURNAL_FIELD_COLUMNS.values(), rows, raw="payload"),),
            )
        if batch.postings:
            cur.execute(
                f"INSERT INTO ledger.entries ({ENTRY_COLUMNS}) SELECT {ENTRY_COLUMNS} "
                "FROM json_populate_recordset(NULL::ledger.entries, %s::json)",
                (json_records(ENTRY_COLUMNS.split(", "), entry_rows(batch.postings)),),
            )

    def _copy(self, batch: BatchWrite, orders: list[list[object]]) -> None:
        """A large batch's rows by COPY, the orders into their staging table."""
        with self._conn.cursor() as cur:
            if batch.journal:
                with cur.copy(f"COPY ledger.journal ({JOURNAL_COLUMNS}) FROM STDIN") as copy:
                    # Fixed per-column dumpers: psycopg then skips its per-value type lookup.
                    copy.set_types(JOURNAL_TYPES)
                    write_row = copy.write_row
                    texts = InstantTexts()
                    for j in batch.journal:
                        write_row(journal_to_row(j, texts))
            if batch.postings:
                with cur.copy(f"COPY ledger.entries ({ENTRY_COLUMNS}) FROM STDIN") as copy:
                    copy.set_types(ENTRY_TYPES)
                    write_row = copy.write_row
                    for row in entry_rows(batch.postings):
                        write_row(row)
            if batch.rejections:
                with cur.copy(f"COPY ledger.rejections ({REJECTION_COLUMNS}) FROM STDIN") as copy:
                    for r in batch.rejections:
                        copy.write_row(
                            (
                                r.topic,
                                r.partition,
                                r.offset,
                                r.kafka_timestamp,
                                r.event_id,
                                r.event_type,
                                r.order_id,
                                r.reason_code,
                                r.error,
                                None if r.payload is None else Jsonb(r.payload),
                                r.raw_value,
                                r.record_sha256,
                                r.recorded_at,
                            )
                        )
            if orders:
                with cur.copy(f"COPY orders_stage ({_ORDER_COLS_SQL}) FROM STDIN") as copy:
                    for order in orders:
                        copy.write_row(order)

    def _move_positions(self, cur: psycopg.Cursor[Any], batch: BatchWrite) -> None:
        """Every partition's move in one statement; each row moves only from the offset this
        consumer started from, so a zombie's update matches fewer rows than it names."""
        ups = batch.positions
        cur.execute(
            "UPDATE ledger.positions AS p SET next_offset = u.next_offset, "
            "chain_head = u.chain_head, journal_rows = p.journal_rows + u.journal_rows, "
            "rejected_rows = p.rejected_rows + u.rejected_rows, updated_at = now() "
            "FROM unnest(%s::text[], %s::int[], %s::bigint[], %s::bigint[], %s::bytea[], "
            "%s::bigint[], %s::bigint[]) "
            "AS u(topic, kafka_partition, expected, next_offset, chain_head, journal_rows, "
            "rejected_rows) "
            "WHERE p.topic = u.topic AND p.kafka_partition = u.kafka_partition "
            "AND p.next_offset = u.expected RETURNING 1",
            (
                [u.topic for u in ups],
                [u.partition for u in ups],
                [u.expected_offset for u in ups],
                [u.new.next_offset for u in ups],
                [u.new.chain_head for u in ups],
                [u.journal_rows for u in ups],
                [u.rejected_rows for u in ups],
            ),
        )
        moved = len(cur.fetchall())
        if moved != len(ups):
            raise StalePosition(
                "a partition's position moved while this batch was being applied; "
                "another consumer owns it now"
            )


_NO_KEYS = StateKeys((), (), ())


def _queue_reads(
    by_order: psycopg.Cursor[Any],
    by_event: psycopg.Cursor[Any],
    by_target: psycopg.Cursor[Any],
    keys: StateKeys,
) -> None:
    """The three reads of a batch's state, queued in the caller's pipeline."""
    if keys.order_ids:
        by_order.execute(
            f"SELECT {_ORDER_COLS_SQL} FROM ledger.orders WHERE order_id = ANY(%s::text[])",
            (text_array(keys.order_ids),),
        )
    if keys.event_ids:
        by_event.execute(
            "SELECT event_id, event_type, payload FROM ledger.journal "
            "WHERE event_id = ANY(%s::text[])",
            (text_array(keys.event_ids),),
        )
    if keys.target_keys:
        by_target.execute(
            "SELECT country, caliber_mm, target_quantity, authority, set_at "
            "FROM ledger.stockpile_targets WHERE (country, caliber_mm) IN "
            "(SELECT * FROM unnest(%s::text[], %s::int[]))",
            ([c for c, _ in keys.target_keys], [k for _, k in keys.target_keys]),
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
                    options=f"{self._limits.options()} {PLANNING}",
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
            # A concurrent consumer journaled the same event id first; a retry sees it.
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
