"""Provenance: an order's history, where one entry came from and what it changed, rejections."""

from __future__ import annotations

from typing import Any

from procledger.adapters.postgres.audit_reader import (
    Connection,
    JournalRow,
    JSONValue,
    journal_json,
    money,
    ts,
)
from procledger.audit.filters import Clocks
from procledger.audit.queries import Page, Row, live_order, order_row, target_row
from procledger.audit.timetravel import clock_where, event_of, fold_rows, journal_rows
from procledger.domain.ledger import empty_state, fold
from procledger.domain.state import LedgerState

HISTORY_COLUMNS = (
    "event_id", "event_type", "occurred_at", "recorded_at", "topic", "partition", "offset",
    "order_status_after", "quantity_after", "value_usd_after", "delivered_after", "paid_usd_after",
)  # fmt: skip
REJECTION_COLUMNS = (
    "id", "topic", "partition", "offset", "kafka_timestamp", "event_id", "event_type",
    "order_id", "reason_code", "error", "record_sha256", "recorded_at",
)  # fmt: skip
POSTING_COLUMNS = ("account", "side", "amount", "currency", "amount_usd")


def _step(row: JournalRow, state: LedgerState) -> Row:
    after = state.orders.get(row.order_id or "")
    return {
        "event_id": row.event_id,
        "event_type": row.event_type,
        "occurred_at": ts(row.occurred_at),
        "recorded_at": ts(row.recorded_at),
        "topic": row.topic,
        "partition": row.partition,
        "offset": row.offset,
        "order_status_after": None if after is None else after.status.value,
        "quantity_after": None if after is None else after.quantity,
        "value_usd_after": None if after is None else money(after.value_usd),
        "delivered_after": None if after is None else after.delivered_quantity,
        "paid_usd_after": None if after is None else money(after.paid_usd),
        "payload": dict(row.payload),
    }


def order_detail(conn: Connection, order_id: str, clocks: Clocks) -> dict[str, Any] | None:
    """Current (or past) state and every step of the order's history; None if unknown."""
    rows = list(journal_rows(conn, clocks, order_id=order_id))
    history: list[Row] = []
    state = empty_state()
    for row in rows:
        # One step at a time from the previous state: the order as each entry left it.
        state = fold(state, [event_of(row)]).state
        history.append(_step(row, state))
    order = live_order(conn, order_id) if clocks.live else fold_rows(rows).orders.get(order_id)
    rejected = rejections(conn, None, None, clocks.known_at, None, 0, order_id=order_id)
    if order is None and not history and not rejected.rows:
        return None
    return {
        "order_id": order_id,
        "as_of": ts(clocks.as_of),
        "known_at": ts(clocks.known_at),
        "state": None if order is None else order_row(order),
        "history": history,
        "rejections": rejected.rows,
    }


def _postings(conn: Connection, event_id: str) -> list[Row]:
    raw = conn.execute(
        "SELECT account, side, amount, currency, amount_usd FROM audit.postings "
        "WHERE event_id = %s ORDER BY leg",
        (event_id,),
    ).fetchall()
    return [
        {"account": a, "side": s, "amount": money(m), "currency": c.strip(), "amount_usd": money(u)}
        for a, s, m, c, u in raw
    ]


def trace(conn: Connection, event_id: str) -> dict[str, Any] | None:
    """Where an entry came from (coordinates, schema, hashes) and what it changed."""
    found = list(journal_rows(conn, Clocks(), extra=("event_id = %s", [event_id])))
    rejected = rejections(conn, None, None, None, None, 0, event_id=event_id).rows
    if not found:
        if not rejected:
            return None
        return {"event_id": event_id, "applied": False, "rejections": rejected}
    row = found[0]
    entry = journal_json(row)
    before: JSONValue = None
    after: JSONValue = None
    if row.order_id is not None:
        history = list(journal_rows(conn, Clocks(), order_id=row.order_id, before_id=row.id))
        prior = fold_rows(history[:-1]).orders.get(row.order_id)
        now = fold_rows(history).orders.get(row.order_id)
        before = None if prior is None else order_row(prior)
        after = None if now is None else order_row(now)
    else:
        key = (str(row.payload.get("country")), row.payload.get("caliber_mm"))
        history = list(
            journal_rows(
                conn,
                Clocks(),
                before_id=row.id,
                extra=(
                    "event_type = 'StockpileTargetSet' AND payload->>'country' = %s "
                    "AND payload->'caliber_mm' = to_jsonb(%s::int)",
                    [key[0], key[1]],
                ),
            )
        )
        prior_t = fold_rows(history[:-1]).targets.get(key)  # type: ignore[arg-type]
        now_t = fold_rows(history).targets.get(key)  # type: ignore[arg-type]
        before = None if prior_t is None else target_row(prior_t)
        after = None if now_t is None else target_row(now_t)
    return {
        "event_id": event_id,
        "applied": True,
        "entry": entry,
        "postings": _postings(conn, event_id),
        "before": before,
        "after": after,
        "rejections": rejected,
    }


def rejections(  # noqa: PLR0917 - the CLI and API pass the same five filters by position
    conn: Connection,
    reason: str | None,
    topic: str | None,
    known_at: Any,
    limit: int | None,
    offset: int,
    *,
    order_id: str | None = None,
    event_id: str | None = None,
) -> Page:
    """Rejected records with reason and coordinates; known_at keeps those recorded by then."""
    params: list[Any] = []
    conditions = ["true", *clock_where(Clocks(known_at=known_at), params)]
    for column, value in (
        ("reason_code", reason),
        ("topic", topic),
        ("order_id", order_id),
        ("event_id", event_id),
    ):
        if value is not None:
            conditions.append(f"{column} = %s")
            params.append(value)
    where = " AND ".join(conditions)
    count = conn.execute(f"SELECT count(*) FROM audit.rejections WHERE {where}", params).fetchone()
    page = " LIMIT %s OFFSET %s" if limit is not None else " OFFSET %s"
    raw = conn.execute(
        "SELECT id, topic, kafka_partition, kafka_offset, kafka_timestamp, event_id, event_type, "
        "order_id, reason_code, error, record_sha256, recorded_at FROM audit.rejections "
        f"WHERE {where} ORDER BY id{page}",
        [*params, *([limit] if limit is not None else []), offset],
    ).fetchall()
    rows: list[Row] = []
    for r in raw:
        row: Row = dict(zip(REJECTION_COLUMNS, r, strict=True))
        row["kafka_timestamp"] = ts(r[4])
        row["record_sha256"] = bytes(r[10]).hex()
        row["recorded_at"] = ts(r[11])
        rows.append(row)
    return Page(REJECTION_COLUMNS, rows, 0 if count is None else int(count[0]))
