"""`procledger events status` and `publish --wait`'s report: what the ledger made of events."""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from collections import Counter
from collections.abc import Sequence
from typing import TextIO

from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.audit.formats import render_rows
from procledger.entrypoints.cli.exits import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_REJECTED,
    EXIT_UNKNOWN,
    EXIT_USAGE,
    fail,
    guarded,
)
from procledger.publishing.status import EventStatus, Outcome, StatusUnavailable, statuses
from procledger.settings import Env
from procledger.settings.publishing import status_database_url

PROG = "procledger events status"
COLUMNS = ("event_id", "status", "event_type", "topic", "partition", "offset", "recorded_at",
           "reason", "message")  # fmt: skip


def outcome_exit(found: Sequence[EventStatus]) -> int:
    """0 all applied, 4 any rejected, 5 none rejected but some unknown."""
    kinds = {s.status for s in found}
    if Outcome.REJECTED in kinds:
        return EXIT_REJECTED
    return EXIT_UNKNOWN if Outcome.UNKNOWN in kinds else EXIT_OK


def counts(found: Sequence[EventStatus]) -> dict[str, int]:
    tally = Counter(s.status.value for s in found)
    return {o.value: tally.get(o.value, 0) for o in Outcome}


def render(found: Sequence[EventStatus], fmt: str, out: TextIO) -> None:
    out.write(render_rows(fmt, COLUMNS, [s.to_json() for s in found]))


def write_wait_report(found: Sequence[EventStatus], waited: float, fmt: str, out: TextIO) -> None:
    """After `publish --wait`: counts per outcome, then every event not applied."""
    tally = counts(found)
    missed = [s for s in found if s.status is not Outcome.APPLIED]
    if fmt == "json":
        record = {"ledger": tally, "not_applied": [s.to_json() for s in missed]}
        out.write(json.dumps(record) + "\n")
        return
    out.write(
        f"ledger after {waited:g}s: {tally['applied']:,} applied, {tally['rejected']:,} "
        f"rejected, {tally['unknown']:,} unknown (not folded yet)\n"
    )
    if missed:
        render(missed, "table", out)


@guarded(PROG, {StatusUnavailable: EXIT_FAILED})
def run(args: argparse.Namespace) -> int:
    bad = [i for i in args.event_ids if not _is_event_id(i)]
    if bad:
        return fail(PROG, f"not an event id (a lowercase UUID): {', '.join(bad)}", EXIT_USAGE)
    reader = PostgresStatusReader(status_database_url(Env()))
    found = statuses(reader, args.event_ids)
    render(found, args.format, sys.stdout)
    return outcome_exit(found)


def _is_event_id(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
