"""`procledger ledger rebuild` and `ledger checkpoint`: projections re-folded from the journal."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

import psycopg
from tqdm import tqdm

from procledger.adapters.postgres.checkpoints import (
    CheckpointBusy,
    SealInFuture,
    SealNotAfterLast,
    SealWaitTimeout,
    checkpoint,
)
from procledger.adapters.postgres.migrations import (
    LEDGER_RELATIONS,
    LedgerSchemaMissing,
    SchemaCheckUnavailable,
    require_relations,
)
from procledger.adapters.postgres.rebuild import rebuild
from procledger.adapters.postgres.standby import StandbyNotWritable
from procledger.audit.filters import FilterError, instant
from procledger.entrypoints.cli.exits import EXIT_FAILED, EXIT_USAGE, fail, guarded
from procledger.entrypoints.cli.support import collect_less_often
from procledger.settings import DatabaseSettings, Env


def run(args: argparse.Namespace) -> int:
    """`procledger ledger ACTION`."""
    if args.action == "checkpoint":
        return run_checkpoint(args)
    return run_rebuild(args)


@guarded("procledger ledger rebuild", {})
def run_rebuild(args: argparse.Namespace) -> int:
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


@guarded(
    "procledger ledger checkpoint",
    {
        FilterError: EXIT_USAGE,
        SealNotAfterLast: EXIT_USAGE,
        SealInFuture: EXIT_USAGE,
        LedgerSchemaMissing: EXIT_FAILED,
        StandbyNotWritable: EXIT_USAGE,
        SchemaCheckUnavailable: EXIT_FAILED,
        CheckpointBusy: EXIT_FAILED,
        SealWaitTimeout: EXIT_FAILED,
    },
)
def run_checkpoint(args: argparse.Namespace) -> int:
    database = DatabaseSettings.from_env(Env())
    if args.lag < 0:
        raise FilterError("--lag", f"must be a number of seconds, 0 or more, got {args.lag:g}")
    until = instant("--until", args.until)
    if until is None:
        until = datetime.now(UTC) - timedelta(seconds=args.lag)
    if args.wait <= 0:
        raise FilterError("--wait", f"must be a number of seconds above 0, got {args.wait:g}")
    require_relations(
        database.url, LEDGER_RELATIONS, "DATABASE_URL", writer="`procledger ledger checkpoint`"
    )
    progress = args.progress or sys.stderr.isatty()
    collect_less_often()
    try:
        with tqdm(unit="ev", disable=not progress, file=sys.stderr) as bar:

            def tick(rows: int) -> None:
                bar.update(rows)

            built = checkpoint(database.url, until, wait_s=args.wait, tick=tick)
    except psycopg.OperationalError as err:
        return fail("procledger ledger checkpoint", f"cannot reach PostgreSQL: {err}", EXIT_FAILED)
    if args.format == "json":
        rows = [
            {
                "checkpoint_id": b.checkpoint_id,
                "sealed_until": b.sealed_until.isoformat(),
                "orders": b.orders,
                "events": b.events,
                "seconds": round(b.seconds, 3),
            }
            for b in built
        ]
        print(json.dumps(rows, indent=2))
    else:
        for b in built:
            print(
                f"checkpoint {b.checkpoint_id} sealed until {b.sealed_until.isoformat()}: "
                f"{b.orders} orders re-folded from {b.events} journal events in {b.seconds:.2f}s"
            )
    return 0
