"""How one batch's rows reach the tables: INSERTs in one round trip for a small batch, COPY
for a large one, then the upserts and the positions' fenced move."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from procledger.adapters.postgres.rows import (
    ENTRY_COLUMNS,
    ENTRY_TYPES,
    JOURNAL_COLUMNS,
    JOURNAL_TYPES,
    ORDER_COLUMN_LIST,
    ORDER_COLUMNS,
    REJECTION_COLUMNS,
    InstantTexts,
    entry_rows,
    journal_to_row,
    json_records,
    order_to_row,
    set_copy_types,
)
from procledger.ledger.ports import JOURNAL_FIELD_COLUMNS, BatchWrite, StalePosition

_ORDER_UPDATE_SQL = ", ".join(f"{c} = EXCLUDED.{c}" for c in ORDER_COLUMNS if c != "order_id")

# A batch of at most this many journal rows (and no rejection) goes out as INSERTs queued in
# one pipeline with the rest of its writes: one round trip instead of seven, for about the
# same CPU per row at this size (stages harness, 50-event batches); past it COPY costs less.
# Caught up, the consumer's batches are small, and each round trip of theirs is latency.
PIPELINED_ROWS = 50


def write_batch(conn: psycopg.Connection[Any], batch: BatchWrite) -> None:
    """Every row of `batch` and its positions' move, in the caller's transaction."""
    orders = [order_to_row(batch.state.orders[o]) for o in sorted(batch.touched_orders)]
    targets = [batch.state.targets[k] for k in sorted(batch.touched_targets)]
    inserted = len(batch.journal) <= PIPELINED_ROWS and not batch.rejections
    if not inserted:
        _copy(conn, batch, orders)
    # COPY cannot be pipelined; the statements after it go out in one round trip.
    with conn.pipeline(), conn.cursor() as cur:
        if inserted:
            _insert(cur, batch)
        if orders:
            source = (
                "json_populate_recordset(NULL::ledger.orders, %s::json)"
                if inserted
                else "orders_stage"
            )
            cur.execute(
                f"INSERT INTO ledger.orders ({ORDER_COLUMN_LIST}) "
                f"SELECT {ORDER_COLUMN_LIST} FROM {source} "
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
        _move_positions(cur, batch)


def _insert(cur: psycopg.Cursor[Any], batch: BatchWrite) -> None:
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


def _copy(conn: psycopg.Connection[Any], batch: BatchWrite, orders: list[list[object]]) -> None:
    """A large batch's rows by COPY, the orders into their staging table."""
    with conn.cursor() as cur:
        if batch.journal:
            with cur.copy(f"COPY ledger.journal ({JOURNAL_COLUMNS}) FROM STDIN") as copy:
                set_copy_types(copy, JOURNAL_TYPES)
                write_row = copy.write_row
                texts = InstantTexts()
                for j in batch.journal:
                    write_row(journal_to_row(j, texts))
        if batch.postings:
            with cur.copy(f"COPY ledger.entries ({ENTRY_COLUMNS}) FROM STDIN") as copy:
                set_copy_types(copy, ENTRY_TYPES)
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
            with cur.copy(f"COPY orders_stage ({ORDER_COLUMN_LIST}) FROM STDIN") as copy:
                for order in orders:
                    copy.write_row(order)


def _move_positions(cur: psycopg.Cursor[Any], batch: BatchWrite) -> None:
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
