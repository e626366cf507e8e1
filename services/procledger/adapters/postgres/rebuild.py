"""`procledger ledger rebuild`: replay the journal alone and compare with the live projections."""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass
from typing import Any

import psycopg
from tqdm import tqdm

from procledger.adapters.postgres.journal import (
    STOCKPILE_COLUMNS,
    check_journal,
    journal_events_by_order,
)
from procledger.adapters.postgres.rows import ORDER_COLUMNS, order_to_row
from procledger.domain.replay import replay_by_order
from procledger.domain.state import StockpileTarget
from procledger.entrypoints.cli.support import collect_less_often


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

            done = check_journal(
                conn, "ledger", url=url, workers=shares, tick=tick, worker_setup=collect_less_often
            )
        conn.rollback()
        differences = [
            f"journal row {row.id}: payload is not a valid {row.event_type}: {row.error}"
            for row in done.unreadable
        ]
        differences += done.differences
        # A journal row that makes no event is tampering: never write projections without it.
        replaced = replace and bool(differences) and not done.unreadable
        if replaced:
            _replace(conn)
    return RebuildReport(
        events=done.events,
        orders=done.orders,
        targets=done.targets,
        seconds=time.monotonic() - started,
        differences=tuple(differences),
        replaced=replaced,
    )


def _count(conn: psycopg.Connection[Any]) -> int:
    found = conn.execute("SELECT count(*) FROM ledger.journal").fetchone()
    return 0 if found is None else int(found[0])


def _replace(conn: psycopg.Connection[Any]) -> None:
    """Write the journal's fold over the live projections, group by group (bounded memory)."""
    with conn.transaction(), conn.cursor() as cur:
        # Holding every position row keeps consumers out until the swap commits, so the
        # journal read below is the one the projections must match.
        cur.execute("SELECT 1 FROM ledger.positions FOR UPDATE")
        cur.execute("DELETE FROM ledger.orders")
        cur.execute("DELETE FROM ledger.stockpile_targets")
        # Checkpoints are folds of the journal too: the next `ledger checkpoint` writes them
        # again from the journal, with the fold the projections now agree with.
        cur.execute("DELETE FROM ledger.checkpoint_orders")
        cur.execute("DELETE FROM ledger.checkpoints")
        targets: dict[tuple[str, int], StockpileTarget] = {}
        orders = f"COPY ledger.orders ({', '.join(ORDER_COLUMNS)}) FROM STDIN"
        # The journal streams on a server-side cursor, free between fetches for each COPY.
        for group in replay_by_order(journal_events_by_order(conn, "ledger")):
            with cur.copy(orders) as copy:
                for order in group.replayed.orders.values():
                    copy.write_row(order_to_row(order))
            targets.update(group.replayed.targets)
        statement = f"COPY ledger.stockpile_targets ({', '.join(STOCKPILE_COLUMNS)}) FROM STDIN"
        with cur.copy(statement) as copy:
            for t in targets.values():
                copy.write_row(tuple(getattr(t, c) for c in STOCKPILE_COLUMNS))
