"""`procledger publish FILE`: validate the whole file, then publish it, or publish nothing."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field, replace
from pathlib import Path

from prometheus_client import CollectorRegistry
from tqdm import tqdm

from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.domain.events import event_type
from procledger.entrypoints.cli.events_handlers import outcome_exit, write_wait_report
from procledger.entrypoints.cli.exits import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_USAGE, fail
from procledger.publishing.inputs import (
    InputChanged,
    InputError,
    guess_format,
    input_path,
    parsed_lines,
)
from procledger.publishing.metrics import PublishMetrics
from procledger.publishing.runner import (
    BrokerFailure,
    Tally,
    metrics_exposure,
    progress_bar,
    write_summary,
)
from procledger.publishing.status import StatusUnavailable, wait_for
from procledger.publishing.workers import (
    Producer,
    ShardedFile,
    WorkerLost,
    publish_file,
    worker_of,
)
from procledger.settings import Env, SettingsError
from procledger.settings.publishing import MAX_WORKERS, PublishSettings, check_source_system

PROG = "procledger publish"
PATH = "cli"


@dataclass(slots=True)
class _Pass1:
    """What pass 1 learnt: valid events per type, invalid lines, each line's worker, ids."""

    counts: Counter[str] = field(default_factory=Counter)
    invalid: int = 0
    workers: bytearray = field(default_factory=bytearray)  # [n]: worker of line n
    event_ids: list[str] = field(default_factory=list)  # kept for --wait only


def _validate(
    path: Path, fmt: str, metrics: PublishMetrics, args: argparse.Namespace, workers: int
) -> _Pass1:
    """Pass 1: every line validated, each problem written to stderr as soon as it is found
    (memory stays bounded however many lines are bad)."""
    found = _Pass1()
    # event_id (as a 128-bit int, about 100 bytes per event) -> the line that first held it.
    seen: dict[int, int] = {}

    def report(line: int, field: str, reason: str) -> None:
        metrics.refused(PATH, reason)
        tqdm.write(f"line {line}: {field}: {reason}", file=sys.stderr)

    # Bytes-based: the file's size is known before a line is read, so the bar has a total,
    # a percentage, a rate and an ETA (events are counted only once the file is read).
    with progress_bar(path.stat().st_size, args.progress, "validating", unit="B") as bar:
        for parsed in parsed_lines(path, fmt, on_bytes=bar.update):
            if parsed.event is None:
                found.invalid += 1
                for error in parsed.errors:
                    report(error.line, error.field, error.reason)
                continue
            key = uuid.UUID(parsed.event.event_id).int
            first = seen.setdefault(key, parsed.line)
            if first != parsed.line:
                found.invalid += 1
                report(parsed.line, "event_id", f"duplicate event_id: line {first} has it too")
                continue
            found.counts[event_type(parsed.event)] += 1
            if workers > 1:
                found.workers.extend(b"\xff" * (parsed.line - len(found.workers)))
                found.workers.append(worker_of(parsed.event, workers))
            if args.wait is not None:
                found.event_ids.append(parsed.event.event_id)
    return found


def _options(args: argparse.Namespace) -> tuple[PublishSettings, str, int]:
    """The settings with the command line's overrides applied and checked."""
    settings = PublishSettings.from_env(Env())
    source = settings.source_system
    if args.source_system is not None:
        source = check_source_system(args.source_system, "--source-system")
    port = settings.metrics_port if args.metrics_port is None else args.metrics_port
    if not 0 <= port <= 65535:
        raise SettingsError(f"--metrics-port must be between 0 and 65535, got {port}")
    if args.metrics_linger < 0:
        raise SettingsError(f"--metrics-linger must be >= 0, got {args.metrics_linger}")
    if getattr(args, "wait", None) is not None and not 0 <= args.wait <= 3600:
        raise SettingsError(f"--wait must be between 0 and 3600 seconds, got {args.wait}")
    workers = getattr(args, "workers", None)
    if workers is not None:
        if not 1 <= workers <= MAX_WORKERS:
            raise SettingsError(f"--workers must be between 1 and {MAX_WORKERS}, got {workers}")
        settings = replace(settings, workers=workers)
    return settings, source, port


def run(args: argparse.Namespace) -> int:
    try:
        settings, source, port = _options(args)
    except SettingsError as err:
        return fail(PROG, str(err), EXIT_USAGE)
    fmt = args.format or guess_format(args.file)
    registry = CollectorRegistry()
    metrics = PublishMetrics(registry)
    try:
        with metrics_exposure(registry, port, args.metrics_linger):
            return _run(args, settings, source, fmt, metrics)
    except OSError as err:
        return fail(PROG, f"cannot serve metrics on 127.0.0.1:{port}: {err}", EXIT_USAGE)


def _run(
    args: argparse.Namespace,
    settings: PublishSettings,
    source: str,
    fmt: str,
    metrics: PublishMetrics,
) -> int:
    name = "standard input" if args.file == "-" else args.file
    try:
        with input_path(args.file) as path:
            started = time.monotonic()
            found = _validate(path, fmt, metrics, args, settings.workers)
            if found.invalid:
                return fail(
                    PROG,
                    f"{name}: {found.invalid:,} invalid line(s); nothing was published",
                    EXIT_INVALID,
                )
            if not found.counts:
                return fail(PROG, f"{name}: contains no events", EXIT_INVALID)
            if args.dry_run:
                seconds = time.monotonic() - started
                write_summary(dict(found.counts), seconds, args.output, "valid", sys.stdout)
                return EXIT_OK
            producer = Producer(settings.kafka, settings.topics, source, settings.linger_ms)
            total = sum(found.counts.values())
            with progress_bar(total, args.progress, "publishing") as bar:
                file = ShardedFile(path, fmt, bytes(found.workers), settings.workers)
                code = _publish(file, producer, Tally(bar, metrics, PATH), total, args.output)
    except InputError as err:
        return fail(PROG, str(err), EXIT_INVALID)
    if code != EXIT_OK or args.wait is None:
        return code
    try:
        reader = PostgresStatusReader(settings.status_database_url)
        states = wait_for(reader, found.event_ids, args.wait)
    except StatusUnavailable as err:
        return fail(PROG, f"all events were published, but {err}", EXIT_FAILED)
    write_wait_report(states, args.wait, args.output, sys.stdout)
    return outcome_exit(states)


def _publish(file: ShardedFile, producer: Producer, sink: Tally, total: int, output: str) -> int:
    """Pass 2 and its summary, or the failure and what it means for a second try."""
    try:
        report = publish_file(file, producer, sink)
    except BrokerFailure as err:
        hint = " (do the topics exist? `procledger topics create`)" if "etadata" in str(err) else ""
        what = "publishing stopped" if isinstance(err, WorkerLost) else "broker failure"
        return fail(
            PROG,
            f"{what}: {err}{hint}. At least {err.confirmed:,} of {total:,} events were "
            "confirmed before it; publishing the same file again is safe (the ledger ignores "
            "duplicate event_ids)",
            EXIT_FAILED,
        )
    except InputChanged as err:
        return fail(
            PROG,
            f"the input changed while it was being published: {err}; events before that line "
            "may already be on the broker (publishing the corrected file again is safe)",
            EXIT_INVALID,
        )
    write_summary(report.counts, report.seconds, output, "published", sys.stdout)
    return EXIT_OK
