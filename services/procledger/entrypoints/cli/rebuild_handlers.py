"""`procledger ledger rebuild`: re-fold the journal, compare or replace the projections."""

from __future__ import annotations

import argparse
import json
import sys

import psycopg

from procledger.adapters.postgres.rebuild import rebuild
from procledger.entrypoints.cli.exits import EXIT_FAILED, fail, guarded
from procledger.entrypoints.cli.support import collect_less_often
from procledger.settings import DatabaseSettings, Env


@guarded("procledger ledger rebuild", {})
def run(args: argparse.Namespace) -> int:
    database = DatabaseSettings.from_env(Env())
    progress = args.progress or sys.stderr.isatty()
    collect_less_often()  # this process folds too when there is one share
    try:
        report = rebuild(database.url, replace=args.replace, progress=progress)
    except psycopg.OperationalError as err:
        return fail("procledger ledger rebuild", f"cannot reach PostgreSQL: {err}", EXIT_FAILED)
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
