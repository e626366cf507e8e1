"""`procledger ledger rebuild`: re-fold the journal alone and compare with the live projections."""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, fields
from itertools import islice, repeat
from typing import Any

import psycopg
from psycopg import sql
from tqdm import tqdm

from procledger.adapters.postgres_store import ORDER_COLUMNS, order_from_row, order_to_row
from procledger.codec.textformats import event_from_json_dict
from procledger.domain.events import Event
from procledger.domain.ledger import empty_state, fold
from procledger.domain.state import LedgerState, Order, StockpileTarget
from procledger.settings import DatabaseSettings, Env, SettingsError


@dataclass(frozen=True, slots=True)
class RebuildReport:
    events: int
    orders: int
    targets: int
    seconds: float
    differences: tuple[str, ...]


# Which share of the journal a worker folds: every event of one order (or, for stockpile
# targets, of one country) falls in the same share, so each share folds independently.
_SHARE_KEY = "mod(hashtext(coalesce(order_id, payload->>'country')) & 2147483647, %s) = %s"
CHUNK = 100_000  # events folded per fold() call: bounds the outcomes held at once


def journal_events(
    conn: psycopg.Connection[Any], progress: bool, share: tuple[int, int] = (0, 1)
) -> Iterator[Event]:
    """Journal rows of one share as events, in commit order, streamed with COPY TO.

    COPY streams: the server reads and renders the next rows while this process folds the
    last ones (a server-side cursor made each 20,000-row fetch a stop-and-wait round trip).
    It reads the transaction's snapshot like any query.
    """
    index, shares = share
    where: sql.Composable = sql.SQL("")
    if shares > 1:
        where = sql.SQL("WHERE " + _SHARE_KEY.replace("%s", "{}")).format(
            sql.Literal(shares), sql.Literal(index)
        )
    total = 0
    if progress:
        query = sql.SQL("SELECT count(*) FROM ledger.journal {}").format(where)
        total_row = conn.execute(query).fetchone()
        total = int(total_row[0]) if total_row else 0
    statement = sql.SQL(
        "COPY (SELECT event_type, payload FROM ledger.journal {} ORDER BY id) TO STDOUT"
    ).format(where)
    with (
        conn.cursor() as cur,
        cur.copy(statement) as copy,
        tqdm(total=total, unit="ev", disable=not progress, file=sys.stderr) as bar,
    ):
        copy.set_types(["text", "jsonb"])
        for count, (kind, payload) in enumerate(copy.rows(), start=1):
            # Journal payloads were validated on the way in; only types are re-checked here.
            yield event_from_json_dict(kind, payload, check=False)
            if count % 10_000 == 0:
                bar.update(10_000)
        bar.update(total - bar.n)


@dataclass(frozen=True, slots=True)
class _Folded:
    events: int
    orders: dict[str, Order]
    targets: dict[tuple[str, int], StockpileTarget]


def _fold_stream(events: Iterator[Event]) -> _Folded:
    """fold() over the stream in chunks: the state carries over, the outcomes do not pile up
    (a million retained outcomes held every intermediate Order: gigabytes, and slower)."""
    state = empty_state()
    count = 0
    while chunk := list(islice(events, CHUNK)):
        state = fold(state, chunk).state
        count += len(chunk)
    return _Folded(count, dict(state.orders), dict(state.targets))


def _fold_share(url: str, snapshot: str, share: tuple[int, int], progress: bool) -> _Folded:
    """A worker process: fold one share of the journal as of the coordinator's snapshot."""
    with psycopg.connect(url) as conn:
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        conn.execute(sql.SQL("SET TRANSACTION SNAPSHOT {}").format(sql.Literal(snapshot)))
        folded = _fold_stream(journal_events(conn, progress, share))
        conn.rollback()
    return folded


def _live(conn: psycopg.Connection[Any]) -> LedgerState:
    with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        cur.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM ledger.orders")
        orders = {row["order_id"]: order_from_row(row) for row in cur}
        cur.execute("SELECT country, caliber_mm, target_quantity, authority, set_at "
                    "FROM ledger.stockpile_targets")  # fmt: skip
        targets = {(r["country"], r["caliber_mm"]): StockpileTarget(**r) for r in cur}
    return LedgerState(orders=orders, targets=targets, seen_event_ids=frozenset())


def _compare(
    kind: str, rebuilt: Mapping[Any, Order | StockpileTarget],
    live: Mapping[Any, Order | StockpileTarget],
) -> list[str]:  # fmt: skip
    differences = [f"{kind} {key}: missing from the live projection"
                   for key in sorted(rebuilt.keys() - live.keys())]  # fmt: skip
    differences += [f"{kind} {key}: in the live projection but not in the journal"
                    for key in sorted(live.keys() - rebuilt.keys())]  # fmt: skip
    for key in sorted(rebuilt.keys() & live.keys()):
        a, b = rebuilt[key], live[key]
        for field in fields(a):
            mine, theirs = getattr(a, field.name), getattr(b, field.name)
            if mine != theirs:
                differences.append(
                    f"{kind} {key}: {field.name} is {theirs!r} live, {mine!r} rebuilt"
                )
    return differences


def rebuild(
    url: str, replace: bool = False, progress: bool = False, workers: int | None = None
) -> RebuildReport:
    """Re-fold the journal and compare; `workers` processes fold disjoint shares of it.

    Sharing out by order is exact: an event's outcome depends only on its own order (or
    stockpile key) and on whether its event id was seen, and the journal's event ids are
    unique (a constraint), so no event can see another share's. Every worker reads the
    same exported snapshot as the live projections.
    """
    started = time.monotonic()
    shares = workers if workers is not None else min(4, os.cpu_count() or 1)
    with psycopg.connect(url) as conn:
        # One snapshot for the journal and the live projections alike.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        if shares > 1:
            row = conn.execute("SELECT pg_export_snapshot()").fetchone()
            assert row is not None
            context = multiprocessing.get_context("spawn")  # no inherited connection state
            with ProcessPoolExecutor(shares, mp_context=context) as pool:
                jobs = [(i, shares) for i in range(shares)]
                bars = [progress and i == 0 for i in range(shares)]  # one bar: the first share's
                parts = list(pool.map(_fold_share, repeat(url), repeat(row[0]), jobs, bars))
        else:
            parts = [_fold_stream(journal_events(conn, progress))]
        live = _live(conn)
        conn.rollback()
        orders = {k: v for part in parts for k, v in part.orders.items()}
        targets = {k: v for part in parts for k, v in part.targets.items()}
        state = LedgerState(orders=orders, targets=targets, seen_event_ids=frozenset())
        differences = _compare("order", state.orders, live.orders)
        differences += _compare("stockpile target", state.targets, live.targets)
        if replace and differences:
            _replace(conn, state)
    return RebuildReport(
        events=sum(part.events for part in parts),
        orders=len(state.orders),
        targets=len(state.targets),
        seconds=time.monotonic() - started,
        differences=tuple(differences),
    )


def _replace(conn: psycopg.Connection[Any], state: LedgerState) -> None:
    with conn.transaction(), conn.cursor() as cur:
        # Holding every position row keeps consumers out until the swap commits.
        cur.execute("SELECT 1 FROM ledger.positions FOR UPDATE")
        cur.execute("DELETE FROM ledger.orders")
        cur.execute("DELETE FROM ledger.stockpile_targets")
        with cur.copy(f"COPY ledger.orders ({', '.join(ORDER_COLUMNS)}) FROM STDIN") as copy:
            for order in state.orders.values():
                copy.write_row(order_to_row(order))
        with cur.copy("COPY ledger.stockpile_targets (country, caliber_mm, target_quantity, "
                      "authority, set_at) FROM STDIN") as copy:  # fmt: skip
            for t in state.targets.values():
                copy.write_row((t.country, t.caliber_mm, t.target_quantity, t.authority, t.set_at))


def run(args: argparse.Namespace) -> int:
    try:
        database = DatabaseSettings.from_env(Env())
    except SettingsError as err:
        print(f"procledger ledger rebuild: {err}", file=sys.stderr)
        return 2
    progress = args.progress or sys.stderr.isatty()
    try:
        report = rebuild(database.url, replace=args.replace, progress=progress)
    except psycopg.OperationalError as err:
        print(f"procledger ledger rebuild: cannot reach PostgreSQL: {err}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps({
            "events": report.events, "orders": report.orders, "targets": report.targets,
            "seconds": round(report.seconds, 3), "differences": list(report.differences),
            "replaced": bool(args.replace and report.differences),
        }, indent=2))  # fmt: skip
    else:
        print(f"re-folded {report.events} journal events into {report.orders} orders and "
              f"{report.targets} stockpile targets in {report.seconds:.2f}s")  # fmt: skip
        for line in report.differences:
            print(f"  DIFFERENCE {line}")
        if not report.differences:
            print("live projections are identical to the journal's fold")
        elif args.replace:
            print(f"replaced the live projections ({len(report.differences)} differences)")
    return 1 if report.differences and not args.replace else 0
