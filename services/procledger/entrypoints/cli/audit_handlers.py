"""Handlers of `procledger audit ...`: parse, query with the read-only role, print."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from tqdm import tqdm

from procledger.adapters.postgres.audit_reader import (
    AuditUnavailable,
    Connection,
    connect,
    retrying,
)
from procledger.adapters.postgres.standby import read_position
from procledger.audit import bundle as bundles
from procledger.audit import history, queries
from procledger.audit import verify as verifying
from procledger.audit.filters import Clocks, FilterError, day, dimensions, instant, order_filter
from procledger.audit.formats import render_rows, to_fields, to_json
from procledger.audit.signing import check_signature, load_public_key, load_signer
from procledger.entrypoints.cli.exits import EXIT_FAILED, EXIT_USAGE, fail, guarded
from procledger.entrypoints.cli.support import collect_less_often
from procledger.settings import Env
from procledger.settings.audit import AuditSettings

Handler = Callable[[argparse.Namespace], int]


def _fmt(args: argparse.Namespace) -> str:
    chosen: str | None = getattr(args, "format", None)
    if chosen:
        return chosen
    return "table" if sys.stdout.isatty() else "json"


def _guarded(body: Callable[[argparse.Namespace, Connection], int]) -> Handler:
    """Settings, connection and the exit codes every audit command shares."""

    @guarded(_prog, {FilterError: EXIT_USAGE, AuditUnavailable: EXIT_FAILED})
    def handler(args: argparse.Namespace) -> int:
        def run(settings: AuditSettings) -> int:
            with connect(settings.read_url) as conn:
                position = read_position(conn)
                if position.standby:
                    # Reading a replica: say how fresh its data is (stderr: stdout is the answer).
                    print(f"procledger audit: reading a {position.describe()}", file=sys.stderr)
                return body(args, conn)

        settings = AuditSettings.from_env(Env())
        return retrying(lambda: run(settings))

    return handler


def _prog(args: argparse.Namespace) -> str:
    return f"procledger audit {args.audit_command}"


def _clocks(args: argparse.Namespace) -> Clocks:
    return Clocks(instant("--as-of", args.as_of), instant("--known-at", args.known_at))


def _filter(args: argparse.Namespace, status: str | None = None) -> Any:
    return order_filter(
        buyer=args.buyer,
        caliber_mm=args.caliber_mm,
        year=getattr(args, "year", None),
        placed_from=getattr(args, "placed_from", None),
        placed_to=getattr(args, "placed_to", None),
        status=status,
        names=("--from", "--to", "--year"),
    )


def _page_bounds(args: argparse.Namespace) -> tuple[int | None, int]:
    if args.limit is not None and args.limit < 0:
        raise FilterError("--limit", f"must be >= 0, got {args.limit}")
    if args.offset < 0:
        raise FilterError("--offset", f"must be >= 0, got {args.offset}")
    return args.limit, args.offset


@_guarded
def totals(args: argparse.Namespace, conn: Connection) -> int:
    by = dimensions("--by", args.by)
    page = queries.totals(conn, by, _filter(args), _clocks(args))
    sys.stdout.write(render_rows(_fmt(args), page.columns, page.rows))
    return 0


@_guarded
def orders(args: argparse.Namespace, conn: Connection) -> int:
    limit, offset = _page_bounds(args)
    page = queries.orders(conn, _filter(args, args.status), _clocks(args), limit, offset)
    sys.stdout.write(render_rows(_fmt(args), page.columns, page.rows))
    return 0


@_guarded
def order(args: argparse.Namespace, conn: Connection) -> int:
    detail = history.order_detail(conn, args.order_id, _clocks(args))

    def table(d: dict[str, Any]) -> str:
        state = to_fields(d["state"] or {"order_id": args.order_id, "state": None})
        return f"{state}\nhistory:\n" + render_rows("table", history.HISTORY_COLUMNS, d["history"])

    return _detail(
        args,
        detail,
        f"order {args.order_id!r}",
        csv=lambda d: render_rows("csv", history.HISTORY_COLUMNS, d["history"]),
        table=table,
    )


@_guarded
def stockpile(args: argparse.Namespace, conn: Connection) -> int:
    flt = order_filter(buyer=args.buyer, caliber_mm=args.caliber_mm)
    page = queries.stockpile(conn, flt, _clocks(args))
    sys.stdout.write(render_rows(_fmt(args), page.columns, page.rows))
    return 0


@_guarded
def trace(args: argparse.Namespace, conn: Connection) -> int:
    def postings(found: dict[str, Any], fmt: str) -> str:
        return render_rows(fmt, history.POSTING_COLUMNS, found.get("postings", []))

    def table(found: dict[str, Any]) -> str:
        parts = [to_fields(found.get("entry") or {"event_id": args.event_id})]
        parts += [
            f"\n{p}:\n{to_fields(found.get(p) or {'order': None})}" for p in ("before", "after")
        ]
        parts += ["\npostings:\n", postings(found, "table")]
        if found.get("rejections"):
            parts += [
                "\nrejections:\n",
                render_rows("table", history.REJECTION_COLUMNS, found["rejections"]),
            ]
        return "".join(parts)

    return _detail(
        args,
        history.trace(conn, args.event_id),
        f"event {args.event_id!r}",
        csv=lambda found: postings(found, "csv"),
        table=table,
    )


def _detail(
    args: argparse.Namespace,
    found: dict[str, Any] | None,
    what: str,
    *,
    csv: Callable[[dict[str, Any]], str],
    table: Callable[[dict[str, Any]], str],
) -> int:
    """One thing in detail (an order, an event): JSON whole, CSV its rows, a table its parts."""
    if found is None:
        return fail(_prog(args), f"{what} not found", EXIT_FAILED)
    fmt = _fmt(args)
    sys.stdout.write(
        to_json(found) if fmt == "json" else csv(found) if fmt == "csv" else table(found)
    )
    return 0


@_guarded
def rejections(args: argparse.Namespace, conn: Connection) -> int:
    limit, offset = _page_bounds(args)
    reason = args.reason and args.reason.upper()
    known_at = instant("--known-at", args.known_at)
    page = history.rejections(conn, reason, args.topic, known_at, limit, offset)
    sys.stdout.write(render_rows(_fmt(args), page.columns, page.rows))
    return 0


@contextmanager
def _progress(total: int, what: str) -> Iterator[Callable[[int], None]]:
    # Progress goes to stderr and only to a terminal: stdout stays the report.
    with tqdm(
        total=total, desc=what, unit="row", file=sys.stderr, disable=not sys.stderr.isatty()
    ) as bar:

        def tick(n: int) -> None:
            bar.update(n)

        yield tick


@_guarded
def verify(args: argparse.Namespace, conn: Connection) -> int:
    collect_less_often()  # this process is the command's own: it replays the whole journal
    with _progress(verifying.rows_to_verify(conn), "verify") as tick:
        report = verifying.verify(conn, tick)
        if args.against_kafka:
            from procledger.adapters.kafka.digests import check_against_kafka  # noqa: PLC0415

            settings = AuditSettings.from_env(Env())
            check_against_kafka(conn, settings.kafka, report, tick)
    result = report.as_dict()
    if args.result_file:
        Path(args.result_file).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    if _fmt(args) == "json":
        sys.stdout.write(to_json(result))
    else:
        sys.stdout.write(_verify_text(result, report))
    return 0 if report.ok else 1


def _verify_text(result: dict[str, Any], report: verifying.VerifyReport | None = None) -> str:
    checked = ", ".join(f"{k} {v}" for k, v in result["checked"].items())
    head = "OK" if result["ok"] else f"FAILED: {len(result['discrepancies'])} discrepancies"
    lines = [f"{head} ({checked})\n"]
    if report is not None and report.database is not None:
        # Which data was verified: a replica verifies what it had replayed.
        through = ", ".join(f"{tp} {n}" for tp, n in report.verified_through.items())
        lines.append(f"as of the {report.database.describe()}; next offsets: {through}\n")
    return "".join([*lines, *(f"  {d}\n" for d in result["discrepancies"])])


@_guarded
def export(args: argparse.Namespace, conn: Connection) -> int:
    start = day("--from", args.placed_from)
    end = day("--to", args.placed_to)
    flt = bundles.BundleFilter(
        order_id=args.order,
        buyer=args.buyer,
        occurred_from=None if start is None else bundles.day_after(start, 0),
        occurred_to=None if end is None else bundles.day_after(end),
    )
    signer = load_signer(AuditSettings.from_env(Env()).signing_key_file)
    with _progress(0, "export") as tick:
        manifest = bundles.export(conn, flt, Path(args.out), tick, _clocks(args), signer)
    rows = manifest["files"]["journal.jsonl"]["rows"]
    signed = "unsigned" if signer is None else f"signed by key sha256 {signer.key_sha256}"
    print(f"wrote {args.out}: {rows} journal rows, {signed}", file=sys.stderr)
    return 0


@guarded("procledger audit check-bundle", {})
def check_bundle(args: argparse.Namespace) -> int:
    key_file = args.public_key or AuditSettings.from_env(Env()).verify_key_file
    name = "--public-key" if args.public_key else "AUDIT_VERIFY_KEY_FILE"
    public = None if not key_file else load_public_key(key_file, name)
    path = Path(args.bundle)
    problems, counts = bundles.check_bundle(path)
    contents = bundles.read_contents(path)
    signature = "unreadable"
    if not isinstance(contents, str):
        signature, signature_problems = check_signature(contents, public)
        problems = [*problems, *signature_problems]
    result = {
        "ok": not problems,
        "checked": counts,
        "signature": signature,
        "discrepancies": problems,
    }
    if _fmt(args) == "json":
        sys.stdout.write(to_json(result))
    else:
        sys.stdout.write(_verify_text(result))
        sys.stdout.write(f"signature: {signature}\n")
    return 0 if not problems else 1
