"""The journal re-folded group by group and compared with the live projections, by share."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, TypeVar

import psycopg
from psycopg import sql

from procledger.adapters.postgres.rows import ORDER_COLUMNS, order_from_row
from procledger.codec.errors import InvalidEventData
from procledger.codec.textformats import event_from_json_dict
from procledger.domain.events import Event
from procledger.domain.replay import (
    Replayed,
    TargetKey,
    keyed_differences,
    replay_by_order,
)
from procledger.domain.state import Order, StockpileTarget

Tick = Callable[[int], None]
TICK_ROWS = 10_000  # rows read between two progress ticks
STOCKPILE_COLUMNS = ("country", "caliber_mm", "target_quantity", "authority", "set_at")

# Which share of the journal a worker folds: every event of one order (or, for stockpile
# targets, of one country) falls in the same share, so each share folds independently.
_SHARE_KEY = "coalesce(order_id, payload->>'country')"
_T = TypeVar("_T")
_EVERY_ROW = sql.SQL("true")


@dataclass(frozen=True, slots=True)
class UnreadableRow:
    """A journal row whose payload is no valid event of its type (only tampering does that)."""

    id: int
    event_type: str
    error: str


def journal_events_by_order(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    share: tuple[int, int] = (0, 1),
    where: sql.Composable = _EVERY_ROW,
    params: Sequence[Any] = (),
    tick: Tick | None = None,
    unreadable: list[UnreadableRow] | None = None,
) -> Iterator[Event]:
    """`schema`.journal's rows of one share (and `where`, bound to `params`) as events, grouped
    as replay_by_order wants them: each order's events in commit order, then the stockpile
    targets' in commit order.

    The server sorts. A server-side cursor, not COPY: the connection stays free between
    fetches for the queries that compare each group with the live projections (and for
    rebuild's COPY of each group). A payload that makes no event is added to `unreadable`
    and skipped (raised without that list).
    """
    statement = sql.SQL(
        "SELECT id, event_type, payload FROM {}.journal {} AND ({}) "
        "ORDER BY order_id NULLS LAST, id"
    ).format(sql.Identifier(schema), _share_where(share), where)
    with conn.cursor(name="journal_by_order") as cur:
        cur.itersize = 5000
        cur.execute(statement, params)
        yield from _events(cur, tick, unreadable)


def _share_where(share: tuple[int, int]) -> sql.Composable:
    return sql.SQL("WHERE {}").format(_share_of(_SHARE_KEY, share))


def _events(
    rows: Iterable[tuple[Any, ...]], tick: Tick | None, unreadable: list[UnreadableRow] | None
) -> Iterator[Event]:
    count = 0
    for count, (row_id, kind, payload) in enumerate(rows, start=1):
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


def _live_orders(
    conn: psycopg.Connection[Any], schema: str, where: sql.Composable, params: Any = None
) -> dict[str, Order]:
    statement = sql.SQL("SELECT {} FROM {}.orders o WHERE {}").format(
        sql.SQL(", ").join(sql.Identifier("o", c) for c in ORDER_COLUMNS),
        sql.Identifier(schema),
        where,
    )
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return {row["order_id"]: order_from_row(row) for row in cur.execute(statement, params)}


def _live_targets(
    conn: psycopg.Connection[Any], schema: str, share: tuple[int, int]
) -> dict[TargetKey, StockpileTarget]:
    statement = sql.SQL("SELECT {} FROM {}.stockpile_targets WHERE {}").format(
        sql.SQL(", ").join(map(sql.Identifier, STOCKPILE_COLUMNS)),
        sql.Identifier(schema),
        _share_of("country", share),
    )
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return {
            (r["country"], r["caliber_mm"]): StockpileTarget(**r) for r in cur.execute(statement)
        }


def _share_of(key: str, share: tuple[int, int]) -> sql.Composable:
    """The condition that `key` (SQL) falls in `share`: (index, of how many shares)."""
    index, shares = share
    if shares <= 1:
        return sql.SQL("true")
    return sql.SQL("mod(hashtext({}) & 2147483647, {}) = {}").format(
        sql.SQL(key), sql.Literal(shares), sql.Literal(index)
    )


@dataclass(frozen=True, slots=True)
class JournalCheck:
    """The journal re-folded and compared with the live projections, part by part."""

    events: int
    orders: int
    targets: int
    differences: tuple[str, ...]
    unreadable: tuple[UnreadableRow, ...]


def check_journal(
    conn: psycopg.Connection[Any],
    schema: str,
    *,
    url: str | None = None,
    workers: int = 1,
    tick: Tick | None = None,
    worker_setup: Callable[[], None] | None = None,
) -> JournalCheck:
    """Re-fold the journal and compare every order and target with `schema`'s live ones.

    Bounded memory whatever the ledger's size: the journal streams grouped by order, and
    each group of about GROUP events is folded, compared with the same orders' live rows,
    and dropped; only the differences found are kept. With `workers` > 1 (and the `url` to
    connect them), that many processes check disjoint shares (by order, by country: exact,
    as an event's outcome depends only on its own order or target key) from `conn`'s
    exported snapshot, each first calling `worker_setup` (module-level: it is pickled);
    `conn` must then be in a REPEATABLE READ transaction.
    """
    if workers <= 1 or url is None:
        parts = [_check_share(conn, schema, (0, 1), tick)]
    else:
        parts = _in_shares(
            conn, url, schema, workers, _check_share, tick=tick, worker_setup=worker_setup
        )
    found = sorted((d for part in parts for d in part.differences), key=lambda d: d[0])
    return JournalCheck(
        events=sum(part.events for part in parts),
        orders=sum(part.orders for part in parts),
        targets=sum(part.targets for part in parts),
        differences=tuple(line for _key, line in found),
        unreadable=tuple(sorted((u for p in parts for u in p.unreadable), key=lambda u: u.id)),
    )


@dataclass(frozen=True, slots=True)
class _ShareCheck:
    events: int
    orders: int
    targets: int
    differences: tuple[tuple[tuple[Any, ...], str], ...]
    unreadable: tuple[UnreadableRow, ...]


def _check_share(
    conn: psycopg.Connection[Any], schema: str, share: tuple[int, int], tick: Tick | None
) -> _ShareCheck:
    unreadable: list[UnreadableRow] = []
    events = journal_events_by_order(conn, schema, share=share, tick=tick, unreadable=unreadable)
    found: list[tuple[tuple[Any, ...], str]] = []
    count = orders = 0
    targets: dict[TargetKey, StockpileTarget] = {}  # a few per country: kept to the end
    for group in replay_by_order(events):
        count += group.replayed.events
        orders += len(group.replayed.orders)
        targets.update(group.replayed.targets)
        where = sql.SQL("o.order_id = ANY(%s)")
        live = _live_orders(conn, schema, where, (list(group.order_ids),))
        found += keyed_differences(Replayed(0, group.replayed.orders, {}), live, {})
    # Live orders of this share with no journal row at all belong to no group.
    strays = sql.SQL(
        "{} AND NOT EXISTS (SELECT 1 FROM {}.journal j WHERE j.order_id = o.order_id)"
    ).format(_share_of("o.order_id", share), sql.Identifier(schema))
    found += keyed_differences(Replayed(0, {}, {}), _live_orders(conn, schema, strays), {})
    found += keyed_differences(Replayed(0, {}, targets), {}, _live_targets(conn, schema, share))
    return _ShareCheck(count, orders, len(targets), tuple(found), tuple(unreadable))


def _in_shares(
    conn: psycopg.Connection[Any],
    url: str,
    schema: str,
    workers: int,
    job: Callable[[psycopg.Connection[Any], str, tuple[int, int], Tick | None], _T],
    *,
    tick: Tick | None,
    worker_setup: Callable[[], None] | None,
) -> list[_T]:
    """`job` run on each of `workers` shares of the journal, in as many processes, all from
    `conn`'s snapshot (`conn` in a REPEATABLE READ transaction)."""
    row = conn.execute("SELECT pg_export_snapshot()").fetchone()
    assert row is not None
    context = multiprocessing.get_context("spawn")  # no inherited connection state
    done = context.Value("q", 0)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(done, worker_setup)
    ) as pool:
        jobs = [
            pool.submit(_share_worker, job, url, row[0], schema, (i, workers))
            for i in range(workers)
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
        return [job.result() for job in jobs]


_done: Any = None  # a worker's share of the progress: rows read, shared with the coordinator


def _start_worker(done: Any, setup: Callable[[], None] | None) -> None:
    global _done  # noqa: PLW0603 - one per worker process, set once by the pool
    _done = done
    if setup is not None:
        setup()


def _count(rows: int) -> None:
    with _done.get_lock():
        _done.value += rows


def _share_worker(
    job: Callable[[psycopg.Connection[Any], str, tuple[int, int], Tick | None], _T],
    url: str,
    snapshot: str,
    schema: str,
    share: tuple[int, int],
) -> _T:
    """A worker process: `job` on one share of the journal as of the coordinator's snapshot."""
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        result = job(conn, schema, share, _count)
        conn.rollback()
    return result
