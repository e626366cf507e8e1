"""`procledger ledger checkpoint`: seal a record-time instant, then write the orders as of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg import sql

from procledger.adapters.postgres.journal import Tick, journal_events_by_order
from procledger.adapters.postgres.rows import ORDER_COLUMNS, order_from_row, order_to_row
from procledger.domain.replay import Replayed, keyed_differences, replay_by_order
from procledger.domain.state import Order

# One builder at a time per database: two would seal and fold past each other.
_LOCK = 0x70726F636B70  # any constant; pg_try_advisory_lock's key space is per database
_COPY = f"COPY ledger.checkpoint_orders (checkpoint_id, {', '.join(ORDER_COLUMNS)}) FROM STDIN"


class CheckpointError(Exception):
    """A checkpoint could not be sealed or built; nothing half-built is ever read."""


class CheckpointBusy(CheckpointError):
    """Another `ledger checkpoint` is running on this database."""


class SealNotAfterLast(CheckpointError):
    """The instant asked for is not after the last sealed one (seals only move forward)."""


class SealInFuture(CheckpointError):
    """The instant asked for is past the database's clock: every batch until then would be
    refused."""


class SealWaitTimeout(CheckpointError):
    """Transactions that were running at the seal were still running when the wait ran out."""


@dataclass(frozen=True, slots=True)
class Built:
    """One checkpoint written: its id, sealed instant and how many orders it holds."""

    checkpoint_id: int
    sealed_until: datetime
    orders: int
    events: int
    seconds: float


def checkpoint(
    url: str,
    until: datetime,
    *,
    wait_s: float = 60.0,
    tick: Tick | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> list[Built]:
    """Seal `until`, wait out the transactions that could still record before it, then build
    every sealed checkpoint not yet built (this one, and any a crash left), oldest first."""
    with psycopg.connect(url, autocommit=True) as conn:
        locked = conn.execute("SELECT pg_try_advisory_lock(%s)", (_LOCK,)).fetchone()
        if not locked or not locked[0]:
            raise CheckpointBusy("another `procledger ledger checkpoint` is running")
        try:
            _seal(conn, until)
            _wait_for_running(conn, wait_s, clock)
            return [_build(conn, cid, sealed, tick) for cid, sealed in _unbuilt(conn)]
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (_LOCK,))


def _seal(conn: psycopg.Connection[Any], until: datetime) -> None:
    now = conn.execute("SELECT now()").fetchone()
    if now is not None and until > now[0]:
        raise SealInFuture(
            f"cannot seal {until.isoformat()}: it is after the database's clock "
            f"({now[0].isoformat()}), and every batch recorded until then would be refused"
        )
    last = conn.execute("SELECT max(sealed_until) FROM ledger.checkpoints").fetchone()
    if last is not None and last[0] is not None and until <= last[0]:
        raise SealNotAfterLast(
            f"cannot seal {until.isoformat()}: checkpoints are sealed up to "
            f"{last[0].isoformat()} already, and a seal only moves forward"
        )
    conn.execute("INSERT INTO ledger.checkpoints (sealed_until) VALUES (%s)", (until,))


def _wait_for_running(
    conn: psycopg.Connection[Any], wait_s: float, clock: Callable[[], float]
) -> None:
    """Wait until every transaction running now has ended.

    A batch reads the seal after it locked its positions (ledger.refuse_sealed), so one that
    read it before the seal above committed already had a transaction id then: it is in this
    snapshot's list, and the fold starts only after it committed or rolled back.
    """
    found = conn.execute(
        "SELECT coalesce(array_agg(x), '{}') FROM pg_snapshot_xip(pg_current_snapshot()) x"
    ).fetchone()
    running = list(found[0]) if found else []
    deadline = clock() + wait_s
    while running:
        still = conn.execute(
            "SELECT coalesce(array_agg(x), '{}') FROM unnest(%s::xid8[]) x "
            "WHERE pg_xact_status(x) = 'in progress'",
            (running,),
        ).fetchone()
        running = list(still[0]) if still else []
        if not running:
            return
        if clock() >= deadline:
            raise SealWaitTimeout(
                f"{len(running)} transaction(s) running at the seal had not ended after "
                f"{wait_s:g}s (xids {', '.join(map(str, running[:5]))}); the seal stands, "
                "run the command again to build the checkpoint"
            )
        time.sleep(0.05)


def _unbuilt(conn: psycopg.Connection[Any]) -> list[tuple[int, datetime]]:
    rows = conn.execute(
        "SELECT checkpoint_id, sealed_until FROM ledger.checkpoints "
        "WHERE built_at IS NULL ORDER BY sealed_until"
    ).fetchall()
    return [(int(r[0]), r[1]) for r in rows]


def _build(
    conn: psycopg.Connection[Any], checkpoint_id: int, sealed: datetime, tick: Tick | None
) -> Built:
    """Write the orders changed since the checkpoint before (every order, for the first), each
    re-folded from its whole journal up to `sealed`, in one transaction."""
    started = time.monotonic()
    with conn.transaction():
        before = conn.execute(
            "SELECT max(sealed_until) FROM ledger.checkpoints WHERE sealed_until < %s",
            (sealed,),
        ).fetchone()
        previous = None if before is None else before[0]
        where, params = _held("ledger", previous, sealed)
        events = journal_events_by_order(conn, "ledger", where=where, params=params, tick=tick)
        orders = folded = 0
        with conn.cursor() as cur:
            for group in replay_by_order(events):
                folded += group.replayed.events
                with cur.copy(_COPY) as copy:
                    for order in group.replayed.orders.values():
                        copy.write_row((checkpoint_id, *order_to_row(order)))
                orders += len(group.replayed.orders)
            cur.execute(
                "UPDATE ledger.checkpoints SET built_at = now(), orders = %s, events = %s "
                "WHERE checkpoint_id = %s",
                (orders, folded, checkpoint_id),
            )
    return Built(checkpoint_id, sealed, orders, folded, time.monotonic() - started)


def _held(
    schema: str, previous: datetime | None, sealed: datetime
) -> tuple[sql.Composable, tuple[Any, ...]]:
    """The journal rows (a condition on `schema`.journal) whose fold a checkpoint sealed at
    `sealed` holds: every order's up to the seal for the first, and after a checkpoint sealed
    at `previous`, those of the orders with a row recorded between the two seals (an order's
    fold depends only on its own events: the others stand as the one before holds them)."""
    if previous is None:
        return sql.SQL("order_id IS NOT NULL AND recorded_at <= %s"), (sealed,)
    changed = sql.SQL(
        "recorded_at <= %s AND order_id IN (SELECT order_id FROM {}.journal "
        "WHERE order_id IS NOT NULL AND recorded_at > %s AND recorded_at <= %s)"
    ).format(sql.Identifier(schema))
    return changed, (sealed, previous, sealed)


@dataclass(frozen=True, slots=True)
class CheckpointCheck:
    """Every built checkpoint re-folded from the journal and compared, every column."""

    checkpoints: int
    orders: int
    differences: tuple[str, ...]


def check_checkpoints(
    conn: psycopg.Connection[Any], schema: str = "audit", tick: Tick | None = None
) -> CheckpointCheck:
    """Re-fold what each built checkpoint should hold and compare it with what it holds.

    Checkpoints are derived data, but time travel answers from them: one altered would
    change those answers without touching the journal. Group by group, as the projections'
    check: the memory stays bounded. `conn` must be in a transaction (a server-side cursor).
    """
    found: list[str] = []
    checked = orders = 0
    previous: datetime | None = None
    seals = conn.execute(
        sql.SQL(
            "SELECT checkpoint_id, sealed_until, built_at IS NOT NULL FROM {}.checkpoints "
            "ORDER BY sealed_until"
        ).format(sql.Identifier(schema))
    ).fetchall()
    for checkpoint_id, sealed, built in seals:
        if built:
            held, lines = _check_one(
                conn, schema, checkpoint_id=checkpoint_id, previous=previous, sealed=sealed,
                tick=tick,
            )  # fmt: skip
            checked, orders = checked + 1, orders + held
            found += lines
        previous = sealed
    return CheckpointCheck(checked, orders, tuple(found))


def _check_one(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    checkpoint_id: int,
    previous: datetime | None,
    sealed: datetime,
    tick: Tick | None,
) -> tuple[int, list[str]]:
    """How many orders the checkpoint holds, and each difference from the journal's fold."""
    holder = (f"checkpoint {checkpoint_id}", f"at checkpoint {checkpoint_id}")
    where, params = _held(schema, previous, sealed)
    events = journal_events_by_order(conn, schema, where=where, params=params, tick=tick)
    held_sql = sql.SQL("SELECT {} FROM {}.checkpoint_orders WHERE checkpoint_id = %s").format(
        sql.SQL(", ").join(map(sql.Identifier, ORDER_COLUMNS)), sql.Identifier(schema)
    )
    in_group = held_sql + sql.SQL(" AND order_id = ANY(%s)")
    found: list[tuple[tuple[Any, ...], str]] = []
    for group in replay_by_order(events):
        held = _orders(conn, in_group, (checkpoint_id, list(group.order_ids)))
        found += keyed_differences(Replayed(0, group.replayed.orders, {}), held, {}, holder)
    # Rows the checkpoint holds for orders the journal did not change before its seal.
    window: sql.Composable = sql.SQL("j.recorded_at <= %s")
    window_params: tuple[Any, ...] = (sealed,)
    if previous is not None:
        window += sql.SQL(" AND j.recorded_at > %s")
        window_params += (previous,)
    strays_sql = held_sql + sql.SQL(
        " AND NOT EXISTS (SELECT 1 FROM {}.journal j WHERE j.order_id = {}.order_id AND {})"
    ).format(sql.Identifier(schema), sql.Identifier("checkpoint_orders"), window)
    strays = _orders(conn, strays_sql, (checkpoint_id, *window_params))
    found += keyed_differences(Replayed(0, {}, {}), strays, {}, holder)
    count = conn.execute(
        sql.SQL("SELECT count(*) FROM {}.checkpoint_orders WHERE checkpoint_id = %s").format(
            sql.Identifier(schema)
        ),
        (checkpoint_id,),
    ).fetchone()
    held_count = 0 if count is None else int(count[0])
    return held_count, [line for _key, line in sorted(found, key=lambda d: d[0])]


def _orders(
    conn: psycopg.Connection[Any], statement: sql.Composed, params: tuple[Any, ...]
) -> dict[str, Order]:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return {row["order_id"]: order_from_row(row) for row in cur.execute(statement, params)}
