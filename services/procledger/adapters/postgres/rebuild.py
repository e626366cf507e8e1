"""`procledger ledger rebuild`: replay the journal alone and compare with the live projections."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from tqdm import tqdm

from procledger.adapters.postgres.journal import STOCKPILE_COLUMNS, live_projections, replay_journal
from procledger.adapters.postgres.store import ORDER_COLUMNS, order_to_row
from procledger.domain.replay import Replayed
from procledger.domain.replay import differences as differences_of
from procledger.entrypoints.cli.support import collect_less_often
from procledger.settings import DatabaseSettings, Env, SettingsError


@dataclass(frozen=True, slots=True)
class RebuildReport:
    events: int
    orders: int
    targets: int
    seconds: float
    differences: tuple[str, ...]
    replaced: bool = False


def rebuild(
    url: str, replace: bool = False, progress: bool = False, workers: int | None = None
) -> RebuildReport:
    """Replay the journal and compare; `workers` processes replay disjoint shares of it."""
    started = time.monotonic()
    shares = workers if workers is not None else min(4, os.cpu_count() or 1)
    with psycopg.connect(url) as conn:
        # One snapshot for the journal and the live projections alike.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        total = _count(conn) if progress else 0
        with tqdm(total=total, unit="ev", disable=not progress, file=sys.stderr) as bar:

            def tick(rows: int) -> None:
                bar.update(rows)

            done = replay_journal(
                conn, "ledger", url=url, workers=shares, tick=tick, worker_setup=collect_less_often
            )
        live_orders, live_targets = live_projections(conn, "ledger")
        conn.rollback()
        replayed = done.replayed
        differences = [
            f"journal row {row.id}: payload is not a valid {row.event_type}: {row.error}"
            for row in done.unreadable
        ]
        differences += differences_of(replayed, live_orders, live_targets)
        # A journal row that makes no event is tampering: never write projections without it.
        replaced = replace and bool(differences) and not done.unreadable
        if replaced:
            _replace(conn, replayed)
    return RebuildReport(
        events=replayed.events,
        orders=len(replayed.orders),
        targets=len(replayed.targets),
        seconds=time.monotonic() - started,
        differences=tuple(differences),
        replaced=replaced,
    )


def _count(conn: psycopg.Connection[Any]) -> int:
    found = conn.execute("SELECT count(*) FROM ledger.journal").fetchone()
    return 0 if found is None else int(found[0])


def _replace(conn: psycopg.Connection[Any], state: Replayed) -> None:
    with conn.transaction(), conn.cursor() as cur:
        # Holding every position row keeps consumers out until the swap commits.
        cur.execute("SELECT 1 FROM ledger.positions FOR UPDATE")
        cur.execute("DELETE FROM ledger.orders")
        cur.execute("DELETE FROM ledger.stockpile_targets")
        with cur.copy(f"COPY ledger.orders ({', '.join(ORDER_COLUMNS)}) FROM STDIN") as copy:
            for order in state.orders.values():
                copy.write_row(order_to_row(order))
        targets = f"COPY ledger.stockpile_targets ({', '.join(STOCKPILE_COLUMNS)}) FROM STDIN"
        with cur.copy(targets) as copy:
            for t in state.targets.values():
                copy.write_row(tuple(getattr(t, c) for c in STOCKPILE_COLUMNS))


def run(args: argparse.Namespace) -> int:
    try:
        database = DatabaseSettings.from_env(Env())
    except SettingsError as err:
        print(f"procledger ledger rebuild: {err}", file=sys.stderr)
        return 2
    progress = args.progress or sys.stderr.isatty()
    collect_less_often()  # this process folds too when there is one share
    try:
        report = rebuild(database.url, replace=args.replace, progress=progress)
    except psycopg.OperationalError as err:
        print(f"procledger ledger rebuild: cannot reach PostgreSQL: {err}", file=sys.stderr)
        return 1
    if args.format == "json":
        result = {
            "events": report.events,
            "orders": report.orders,
            "targets": report.targets,
            "seconds": round(report.seconds, 3),
            "differences": list(report.differences),
            "replaced": report.replaced,
        }
        print(json.dumps(result, indent=2))
    else:
        print(
            f"re-folded {report.events} journal events into {report.orders} orders and "
            f"{report.targets} stockpile targets in {report.seconds:.2f}s"
        )
        for line in report.differences:
            print(f"  DIFFERENCE {line}")
        if not report.differences:
            print("live projections are identical to the journal's fold")
        elif report.replaced:
            print(f"replaced the live projections ({len(report.differences)} differences)")
    return 1 if report.differences and not report.replaced else 0
