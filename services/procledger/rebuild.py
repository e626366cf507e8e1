"""`procledger ledger rebuild`: re-fold the journal alone and compare with the live projections."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from typing import Any

import psycopg
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


def journal_events(conn: psycopg.Connection[Any], progress: bool) -> Iterator[Event]:
    """Every journal row as an event, streamed with a server-side cursor in commit order."""
    total_row = conn.execute("SELECT count(*) FROM ledger.journal").fetchone()
    total = int(total_row[0]) if total_row else 0
    with (
        conn.cursor(name="rebuild_journal") as cur,
        tqdm(total=total, unit="ev", disable=not progress, file=sys.stderr) as bar,
    ):
        cur.itersize = 20_000
        cur.execute("SELECT event_type, payload FROM ledger.journal ORDER BY id")
        for count, (kind, payload) in enumerate(cur, start=1):
            # Journal payloads were validated on the way in; only types are re-checked here.
            yield event_from_json_dict(kind, payload, check=False)
            if count % 10_000 == 0:
                bar.update(10_000)
        bar.update(total - bar.n)


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


def rebuild(url: str, replace: bool = False, progress: bool = False) -> RebuildReport:
    started = time.monotonic()
    with psycopg.connect(url) as conn:
        # One snapshot for the journal and the live projections alike.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
        result = fold(empty_state(), journal_events(conn, progress))
        live = _live(conn)
        conn.rollback()
        state = result.state
        differences = _compare("order", state.orders, live.orders)
        differences += _compare("stockpile target", state.targets, live.targets)
        if replace and differences:
            _replace(conn, state)
    return RebuildReport(
        events=len(result.outcomes),
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
