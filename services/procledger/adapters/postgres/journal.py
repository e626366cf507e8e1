"""The journal read back for a replay: COPY-streamed events, by share, from one snapshot."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from procledger.adapters.postgres.store import ORDER_COLUMNS, order_from_row
from procledger.codec.errors import InvalidEventData
from procledger.codec.textformats import event_from_json_dict
from procledger.domain.events import Event
from procledger.domain.replay import Replayed, TargetKey, merge, replay
from procledger.domain.state import Order, StockpileTarget

Tick = Callable[[int], None]
TICK_ROWS = 10_000  # rows read between two progress ticks
STOCKPILE_COLUMNS = ("country", "caliber_mm", "target_quantity", "authority", "set_at")

# Which share of the journal a worker folds: every event of one order (or, for stockpile
# targets, of one country) falls in the same share, so each share folds independently.
_SHARE_KEY = "mod(hashtext(coalesce(order_id, payload->>'country')) & 2147483647, {}) = {}"


@dataclass(frozen=True, slots=True)
class UnreadableRow:
    """A journal row whose payload is no valid event of its type (only tampering does that)."""

    id: int
    event_type: str
    error: str


@dataclass(frozen=True, slots=True)
class JournalReplay:
    """A replay of the journal, and the rows it had to leave out."""

    replayed: Replayed
    unreadable: tuple[UnreadableRow, ...]


def journal_events(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    share: tuple[int, int] = (0, 1),
    tick: Tick | None = None,
    unreadable: list[UnreadableRow] | None = None,
) -> Iterator[Event]:
    """`schema`.journal's rows of one share as events, in commit order, streamed with COPY TO.

    COPY streams: the server reads and renders the next rows while this process folds the
    last ones (a server-side cursor made each fetch a stop-and-wait round trip). It reads the
    transaction's snapshot like any query. A payload that makes no event is added to
    `unreadable` and skipped (raised without that list).
    """
    index, shares = share
    where: sql.Composable = sql.SQL("")
    if shares > 1:
        where = sql.SQL("WHERE " + _SHARE_KEY).format(sql.Literal(shares), sql.Literal(index))
    statement = sql.SQL(
        "COPY (SELECT id, event_type, payload FROM {}.journal {} ORDER BY id) TO STDOUT"
    ).format(sql.Identifier(schema), where)
    with conn.cursor() as cur, cur.copy(statement) as copy:
        copy.set_types(["int8", "text", "jsonb"])
        count = 0
        for count, (row_id, kind, payload) in enumerate(copy.rows(), start=1):
            if tick is not None and count % TICK_ROWS == 0:
                tick(TICK_ROWS)
            try:
                # Journal payloads were validated on the way in; only types are re-checked.
                yield event_from_json_dict(kind, payload, check=False)
            except InvalidEventData as err:
                if unreadable is None:
                    raise
                unreadable.append(UnreadableRow(row_id, kind, str(err)))
        if tick is not None:
            tick(count % TICK_ROWS)


def live_projections(
    conn: psycopg.Connection[Any], schema: str
) -> tuple[dict[str, Order], dict[TargetKey, StockpileTarget]]:
    """`schema`'s orders and stockpile targets, as the fold's values."""
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(
            sql.SQL("SELECT {} FROM {}.orders").format(
                sql.SQL(", ").join(map(sql.Identifier, ORDER_COLUMNS)), sql.Identifier(schema)
            )
        )
        orders = {row["order_id"]: order_from_row(row) for row in cur}
        cur.execute(
            sql.SQL("SELECT {} FROM {}.stockpile_targets").format(
                sql.SQL(", ").join(map(sql.Identifier, STOCKPILE_COLUMNS)), sql.Identifier(schema)
            )
        )
        targets = {(r["country"], r["caliber_mm"]): StockpileTarget(**r) for r in cur}
    return orders, targets


def replay_journal(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    url: str | None = None,
    workers: int = 1,
    tick: Tick | None = None,
    worker_setup: Callable[[], None] | None = None,
) -> JournalReplay:
    """Replay the whole journal as `conn`'s transaction sees it, with bounded memory.

    With `workers` > 1 (and the `url` to connect them), that many processes fold disjoint
    shares of it from `conn`'s exported snapshot, each first calling `worker_setup` (a
    module-level function: it is pickled). Sharing out by order is exact: an event's
    outcome depends only on its own order (or stockpile key), and journal event ids are unique.
    `conn` must be in a REPEATABLE READ transaction for the workers to share its snapshot.
    """
    if workers <= 1 or url is None:
        unreadable: list[UnreadableRow] = []
        replayed = replay(journal_events(conn, schema, tick=tick, unreadable=unreadable))
        return JournalReplay(replayed, tuple(unreadable))
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    context = multiprocessing.get_context("spawn")  # no inherited connection state
    done = context.Value("q", 0)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(done, worker_setup)
    ) as pool:
        jobs = [
            pool.submit(_replay_share, url, row[0], schema, (i, workers)) for i in range(workers)
        ]
        reported = 0
        while True:
            finished, pending = wait(jobs, timeout=0.5, return_when=FIRST_EXCEPTION)
            if tick is not None:
                now = done.value
                tick(now - reported)
                reported = now
            if not pending or any(job.exception() for job in finished):
                break
        parts = [job.result() for job in jobs]
    return JournalReplay(
        merge(part.replayed for part in parts),
        tuple(sorted((u for part in parts for u in part.unreadable), key=lambda u: u.id)),
    )


_done: Any = None  # a worker's share of the progress: rows read, shared with the coordinator


def _start_worker(done: Any, setup: Callable[[], None] | None) -> None:
    global _done  # noqa: PLW0603 - one per worker process, set once by the pool
    _done = done
    if setup is not None:
        setup()


def _count(rows: int) -> None:
    with _done.get_lock():
        _done.value += rows


def _replay_share(url: str, snapshot: str, schema: str, share: tuple[int, int]) -> JournalReplay:
    """A worker process: replay one share of the journal as of the coordinator's snapshot."""
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        unreadable: list[UnreadableRow] = []
        events = journal_events(conn, schema, share=share, tick=_count, unreadable=unreadable)
        replayed = replay(events)
        conn.rollback()
    return JournalReplay(replayed, tuple(unreadable))
