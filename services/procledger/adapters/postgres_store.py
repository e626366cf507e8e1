"""PostgresLedgerStore: one transaction per batch, COPY for history, set-based upserts."""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from procledger.consumer.ports import (
    BatchWrite,
    LedgerTransaction,
    Position,
    StalePosition,
    TopicPartition,
)
from procledger.domain.events import Purpose
from procledger.domain.state import LedgerState, Order, OrderStatus, StockpileTarget

log = logging.getLogger(__name__)

GENESIS = bytes(32)

ORDER_COLUMNS = tuple(f.name for f in fields(Order))
_ORDER_COLS_SQL = ", ".join(ORDER_COLUMNS)
_ORDER_UPDATE_SQL = ", ".join(f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS if c != "order_id")

JOURNAL_COLUMNS = (
    "event_id, event_type, order_id, payload, writer_fingerprint, schema_version, occurred_at, "
    "recorded_at, topic, kafka_partition, kafka_offset, kafka_timestamp, record_sha256, "
    "prev_hash, hash"
)
REJECTION_COLUMNS = (
    "topic, kafka_partition, kafka_offset, kafka_timestamp, event_id, event_type, order_id, "
    "reason_code, error, payload, raw_value, record_sha256, recorded_at"
)
POSTING_COLUMNS = "event_id, order_id, account, side, amount, currency, amount_usd"


class StoreUnavailable(Exception):
    """PostgreSQL could not be reached or dropped the connection: retried until it is back."""


class StoreConflict(Exception):
    """A concurrent transaction got in the way: retried a few times, then fatal."""


def order_from_row(row: Mapping[str, Any]) -> Order:
    values = dict(row)
    values["purpose"] = Purpose(values["purpose"])
    values["status"] = OrderStatus(values["status"])
    values["currency"] = values["currency"].strip()
    values["delivery_ids"] = frozenset(values["delivery_ids"])
    values["payment_ids"] = frozenset(values["payment_ids"])
    return Order(**values)


def order_to_row(order: Order) -> tuple[object, ...]:
    row: list[object] = []
    for name in ORDER_COLUMNS:
        value = getattr(order, name)
        if isinstance(value, frozenset):
            value = sorted(value)
        elif isinstance(value, Purpose | OrderStatus):
            value = value.value
        row.append(value)
    return tuple(row)


class _PostgresTransaction:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def lock_positions(
        self, partitions: Collection[TopicPartition]
    ) -> dict[TopicPartition, Position]:
        ordered = sorted(partitions)
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO ledger.positions (topic, kafka_partition, next_offset, chain_head) "
                "VALUES (%s, %s, 0, %s) ON CONFLICT DO NOTHING",
                [(t, p, GENESIS) for t, p in ordered],
            )
            # A fixed lock order: two consumers locking overlapping sets never deadlock.
            cur.execute(
                "SELECT topic, kafka_partition, next_offset, chain_head FROM ledger.positions "
                "WHERE (topic, kafka_partition) IN (SELECT * FROM unnest(%s::text[], %s::int[])) "
                "ORDER BY topic, kafka_partition FOR UPDATE",
                ([t for t, _ in ordered], [p for _, p in ordered]),
            )
            return {(t, p): Position(o, bytes(h)) for t, p, o, h in cur.fetchall()}

    def load_state(
        self,
        order_ids: Collection[str],
        event_ids: Collection[str],
        target_keys: Collection[tuple[str, int]],
    ) -> LedgerState:
        orders: dict[str, Order] = {}
        targets: dict[tuple[str, int], StockpileTarget] = {}
        seen: frozenset[str] = frozenset()
        with self._conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            if order_ids:
                cur.execute(
                    f"SELECT {_ORDER_COLS_SQL} FROM ledger.orders WHERE order_id = ANY(%s)",
                    (list(order_ids),),
                )
                orders = {row["order_id"]: order_from_row(row) for row in cur.fetchall()}
            if event_ids:
                cur.execute(
                    "SELECT event_id FROM ledger.journal WHERE event_id = ANY(%s)",
                    (list(event_ids),),
                )
                seen = frozenset(row["event_id"] for row in cur.fetchall())
            if target_keys:
                cur.execute(
                    "SELECT country, caliber_mm, target_quantity, authority, set_at "
                    "FROM ledger.stockpile_targets WHERE (country, caliber_mm) IN "
                    "(SELECT * FROM unnest(%s::text[], %s::int[]))",
                    ([c for c, _ in target_keys], [k for _, k in target_keys]),
                )
                for row in cur.fetchall():
                    target = StockpileTarget(**row)
                    targets[(target.country, target.caliber_mm)] = target
        return LedgerState(orders=orders, targets=targets, seen_event_ids=seen)

    def write(self, batch: BatchWrite) -> None:
        with self._conn.cursor() as cur:
            if batch.journal:
                with cur.copy(f"COPY ledger.journal ({JOURNAL_COLUMNS}) FROM STDIN") as copy:
                    for j in batch.journal:
                        copy.write_row((
                            j.event_id, j.event_type, j.order_id, Jsonb(j.payload),
                            j.writer_fingerprint, j.schema_version, j.occurred_at, j.recorded_at,
                            j.topic, j.partition, j.offset, j.kafka_timestamp, j.record_sha256,
                            j.prev_hash, j.hash,
                        ))  # fmt: skip
            if batch.postings:
                with cur.copy(f"COPY ledger.postings ({POSTING_COLUMNS}) FROM STDIN") as copy:
                    for p in batch.postings:
                        copy.write_row((p.event_id, p.order_id, p.account, p.side, p.amount,
                                        p.currency, p.amount_usd))  # fmt: skip
            if batch.rejections:
                with cur.copy(f"COPY ledger.rejections ({REJECTION_COLUMNS}) FROM STDIN") as copy:
                    for r in batch.rejections:
                        copy.write_row((
                            r.topic, r.partition, r.offset, r.kafka_timestamp, r.event_id,
                            r.event_type, r.order_id, r.reason_code, r.error,
                            None if r.payload is None else Jsonb(r.payload), r.raw_value,
                            r.record_sha256, r.recorded_at,
                        ))  # fmt: skip
            self._upsert_orders(cur, [batch.state.orders[o] for o in sorted(batch.touched_orders)])
            targets = [batch.state.targets[k] for k in sorted(batch.touched_targets)]
            if targets:
                cur.executemany(
                    "INSERT INTO ledger.stockpile_targets "
                    "(country, caliber_mm, target_quantity, authority, set_at) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (country, caliber_mm) DO UPDATE SET "
                    "target_quantity = EXCLUDED.target_quantity, "
                    "authority = EXCLUDED.authority, set_at = EXCLUDED.set_at",
                    [(t.country, t.caliber_mm, t.target_quantity, t.authority, t.set_at)
                     for t in targets],
                )  # fmt: skip
            self._move_positions(cur, batch)

    def _upsert_orders(self, cur: psycopg.Cursor[Any], orders: Sequence[Order]) -> None:
        if not orders:
            return
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS orders_stage "
            "(LIKE ledger.orders INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(f"COPY orders_stage ({_ORDER_COLS_SQL}) FROM STDIN") as copy:
            for order in orders:
                copy.write_row(order_to_row(order))
        cur.execute(
            f"INSERT INTO ledger.orders ({_ORDER_COLS_SQL}) "
            f"SELECT {_ORDER_COLS_SQL} FROM orders_stage "
            f"ON CONFLICT (order_id) DO UPDATE SET {_ORDER_UPDATE_SQL}"
        )

    def _move_positions(self, cur: psycopg.Cursor[Any], batch: BatchWrite) -> None:
        moved = 0
        for update in batch.positions:
            # Conditional on where this consumer started: a zombie's update matches nothing.
            cur.execute(
                "UPDATE ledger.positions SET next_offset = %s, chain_head = %s, "
                "journal_rows = journal_rows + %s, rejected_rows = rejected_rows + %s, "
                "updated_at = now() "
                "WHERE topic = %s AND kafka_partition = %s AND next_offset = %s",
                (update.new.next_offset, update.new.chain_head, update.journal_rows,
                 update.rejected_rows, update.topic, update.partition, update.expected_offset),
            )  # fmt: skip
            moved += cur.rowcount
        if moved != len(batch.positions):
            raise StalePosition(
                "a partition's position moved while this batch was being applied; "
                "another consumer owns it now"
            )


class PostgresLedgerStore:
    """The ledger in PostgreSQL; reconnects after the server restarts."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._conn: psycopg.Connection[Any] | None = None

    def _connection(self) -> psycopg.Connection[Any]:
        if self._conn is None or self._conn.closed or self._conn.broken:
            try:
                self._conn = psycopg.connect(self._url, application_name="procledger-consumer")
            except psycopg.OperationalError as err:
                raise StoreUnavailable(f"cannot connect to PostgreSQL: {err}") from err
        return self._conn

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        conn = self._connection()
        try:
            with conn.transaction():
                yield _PostgresTransaction(conn)
        except psycopg.OperationalError as err:
            raise StoreUnavailable(f"PostgreSQL failed during the batch: {err}") from err
        except psycopg.errors.SerializationFailure as err:
            raise StoreConflict(f"serialization conflict: {err}") from err
        except psycopg.errors.DeadlockDetected as err:
            raise StoreConflict(f"deadlock: {err}") from err
        except psycopg.errors.UniqueViolation as err:
            # A concurrent consumer journaled the same event id first; a retry sees it.
            raise StoreConflict(f"concurrent duplicate: {err}") from err

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
