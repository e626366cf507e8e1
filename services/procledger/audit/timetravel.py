"""The ledger at a past moment: journal rows up to either clock, folded by the pure domain."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from procledger.adapters.postgres.audit_reader import (
    JOURNAL_SELECT,
    Connection,
    JournalRow,
    journal_row,
)
from procledger.audit.filters import Clocks
from procledger.codec.textformats import event_from_json_dict
from procledger.domain.events import Event
from procledger.domain.replay import replay
from procledger.domain.state import LedgerState


def set_conditions(params: list[Any], *optional: tuple[str, object]) -> list[str]:
    """The (condition, value) pairs' conditions whose value is set (not None), in order; each
    binds its value into `params` once per %s placeholder."""
    conditions = []
    for condition, value in optional:
        if value is not None:
            conditions.append(condition)
            params += [value] * condition.count("%s")
    return conditions


def clock_where(clocks: Clocks, params: list[Any], prefix: str = "") -> list[str]:
    """SQL conditions (parameterised into `params`) for the two clocks on journal rows."""
    return set_conditions(
        params,
        (f"{prefix}occurred_at <= %s", clocks.as_of),
        (f"{prefix}recorded_at <= %s", clocks.known_at),
    )


def journal_rows(
    conn: Connection,
    clocks: Clocks,
    *,
    order_id: str | None = None,
    before_id: int | None = None,
    extra: tuple[str, list[Any]] | None = None,
    of_orders: tuple[str, list[Any]] | None = None,
) -> Iterator[JournalRow]:
    """Journal rows in application order (id), restricted by the clocks and optional filters,
    and to the orders `of_orders` selects (SQL of one order_id column, each order once, and
    its parameters)."""
    params: list[Any] = []
    conditions = clock_where(clocks, params)
    conditions += set_conditions(params, ("order_id = %s", order_id), ("id <= %s", before_id))
    if extra is not None:
        conditions.append(extra[0])
        params.extend(extra[1])
    query = f"{JOURNAL_SELECT}{_where(conditions)} ORDER BY id"
    if of_orders is not None:
        # Each order's rows are probed through the journal's order index, so the read costs
        # what those orders hold. As a plain join or `IN`, the planner (misled by orders
        # whose rows mostly fall outside the clocks) scanned every row the clocks see: 1.0 s
        # against 0.39 s for 32,351 orders of a 2,000,000-row journal. OFFSET 0 keeps the
        # subquery from being flattened into such a join.
        probe = f"{JOURNAL_SELECT}{_where(['order_id = changed.order_id', *conditions])}"
        query = (
            f"SELECT journal.* FROM ({of_orders[0]}) AS changed "
            f"CROSS JOIN LATERAL ({probe} OFFSET 0) AS journal ORDER BY journal.id"
        )
        params = [*of_orders[1], *params]
    # A named (server-side) cursor streams a large journal instead of loading it whole.
    with conn.cursor(name="audit_journal") as cur:
        cur.itersize = 5000
        cur.execute(query, params)
        for row in cur:
            yield journal_row(row)


def _where(conditions: list[str]) -> str:
    return f" WHERE {' AND '.join(conditions)}" if conditions else ""


def event_of(row: JournalRow) -> Event:
    """The event a journal payload records (validated when it was consumed)."""
    return event_from_json_dict(row.event_type, row.payload, check=False)


def fold_rows(rows: Iterable[JournalRow]) -> LedgerState:
    """The orders and targets a replay of these rows reaches (bounded memory, no event ids)."""
    replayed = replay(event_of(r) for r in rows)
    return LedgerState(replayed.orders, replayed.targets, frozenset())


def state_at(
    conn: Connection,
    clocks: Clocks,
    order_id: str | None = None,
    extra: tuple[str, list[Any]] | None = None,
    of_orders: tuple[str, list[Any]] | None = None,
) -> LedgerState:
    """The ledger (or one order's part of it, the rows `extra` selects, the orders `of_orders`
    selects) as the clocks see it."""
    return fold_rows(
        journal_rows(conn, clocks, order_id=order_id, extra=extra, of_orders=of_orders)
    )


LIVE = "audit.orders"


@dataclass(frozen=True, slots=True)
class Unseen:
    """Where a time-travel answer starts (`base`: the live orders, or a checkpoint's), which
    orders it must re-fold (journal rows the clocks and the base disagree on), as SQL, and
    how many such rows there are."""

    orders_sql: str  # SELECT DISTINCT order_id ..., parameterised by `params`
    params: list[Any]
    rows: int
    journal_rows: int
    base: str = LIVE  # a relation with audit.orders' columns: the orders as the base has them
    checkpoint_id: int | None = None


def unseen(conn: Connection, clocks: Clocks) -> Unseen:
    """Which orders changed between the clocks and the nearest base that holds every order.

    An order with no journal row between the clocks and a base stands in that base as the
    clocks see it (an order's fold depends only on its own events): time travel re-folds
    only the rest. The live projection is one base (the rows past the clocks differ); with
    a record clock, so is each built checkpoint (the rows recorded between it and the
    clock). The base with the fewest such rows wins (the live one among equals); the
    columns are indexed, and counting costs a few times the winner's rows (_fewest).
    """
    total = conn.execute("SELECT coalesce(sum(journal_rows), 0) FROM audit.positions").fetchone()
    candidates = [_window(clocks, None)]  # first: on a tie the live projection is cheaper
    if clocks.known_at is not None:
        candidates += [
            _window(clocks, sealed, checkpoint_id)
            for checkpoint_id, sealed in _nearest_checkpoints(conn, clocks.known_at)
        ]
    best, best_rows = _fewest(conn, candidates)
    where, params, checkpoint_id = best
    return Unseen(
        orders_sql=(
            f"SELECT DISTINCT order_id FROM audit.journal WHERE order_id IS NOT NULL AND {where}"
        ),
        params=params,
        rows=best_rows,
        journal_rows=0 if total is None else int(total[0]),
        base=LIVE if checkpoint_id is None else checkpoint_orders(checkpoint_id),
        checkpoint_id=checkpoint_id,
    )


def checkpoint_orders(checkpoint_id: int) -> str:
    """The orders as checkpoint `checkpoint_id` holds them: each its latest row up to it."""
    return (
        "(SELECT DISTINCT ON (order_id) * FROM audit.checkpoint_orders "
        f"WHERE checkpoint_id <= {int(checkpoint_id)} "
        "ORDER BY order_id DESC, checkpoint_id DESC) AS checkpoint"
    )


Window = tuple[str, list[Any], int | None]


def _window(clocks: Clocks, sealed: datetime | None, checkpoint_id: int | None = None) -> Window:
    """Journal rows a base at `sealed` (None: live) and the clocks see differently, as SQL."""
    past: list[str] = []
    params: list[Any] = []
    if clocks.as_of is not None:
        past.append("occurred_at > %s")
        params.append(clocks.as_of)
    if clocks.known_at is not None and sealed is None:
        past.append("recorded_at > %s")
        params.append(clocks.known_at)
    elif clocks.known_at is not None and sealed is not None:
        past.append("(recorded_at > %s AND recorded_at <= %s)")
        params += sorted((clocks.known_at, sealed))
    return f"({' OR '.join(past) or 'false'})", params, checkpoint_id


def _fewest(conn: Connection, candidates: list[Window]) -> tuple[Window, int]:
    """The window with the fewest rows (the first of equals) and its count. Each is counted
    up to a limit that grows fourfold until one falls short of it, so the counting costs a
    few times the smallest window, never the largest (half the journal, for the live one)."""
    limit = 1024
    while True:
        counts = [_count(conn, window, limit) for window in candidates]
        fewest = min(counts)
        if fewest < limit:
            return candidates[counts.index(fewest)], fewest
        limit *= 4


def _count(conn: Connection, window: Window, limit: int) -> int:
    """The rows in `window`, counted up to `limit`."""
    where, params, _ = window
    query = f"SELECT 1 FROM audit.journal WHERE {where} LIMIT {int(limit)}"
    found = conn.execute(f"SELECT count(*) FROM ({query}) AS w", params).fetchone()
    return 0 if found is None else int(found[0])


def _nearest_checkpoints(conn: Connection, known_at: datetime) -> list[tuple[int, datetime]]:
    """The built checkpoints nearest `known_at`, at or before it and after it."""
    rows = conn.execute(
        "(SELECT checkpoint_id, sealed_until FROM audit.checkpoints WHERE built_at IS NOT NULL "
        " AND sealed_until <= %s ORDER BY sealed_until DESC LIMIT 1) UNION ALL "
        "(SELECT checkpoint_id, sealed_until FROM audit.checkpoints WHERE built_at IS NOT NULL "
        " AND sealed_until > %s ORDER BY sealed_until LIMIT 1)",
        (known_at, known_at),
    ).fetchall()
    return [(int(r[0]), r[1]) for r in rows]
