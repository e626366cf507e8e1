"""`procledger publish FILE`: validate the whole file, then publish it, or publish nothing."""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from tqdm import tqdm

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.domain.events import Event, event_type
from procledger.entrypoints.cli.events_handlers import outcome_exit, write_wait_report
from procledger.entrypoints.cli.exits import EXIT_FAILED, EXIT_INVALID, EXIT_OK, EXIT_USAGE, fail
from procledger.publishing.inputs import InputError, guess_format, input_path, parsed_lines
from procledger.publishing.metrics import PublishMetrics
from procledger.publishing.runner import (
    BrokerFailure,
    metrics_exposure,
    progress_bar,
    publish_stream,
    write_summary,
)
from procledger.publishing.status import StatusUnavailable, wait_for
from procledger.settings import Env, SettingsError
from procledger.settings.publishing import PublishSettings, check_source_system

PROG = "procledger publish"
PATH = "cli"


class _ChangedWhilePublishing(Exception):
    """Pass 2 met a line that pass 1 accepted: the file was modified in between."""


def _validate(
    path: Path, fmt: str, metrics: PublishMetrics, force_progress: bool
) -> tuple[Counter[str], int]:
    """Pass 1: counts of valid events per type and the number of invalid lines.

    Each problem is written to stderr as soon as it is found, so memory stays bounded
    however many lines are bad.
    """
    counts: Counter[str] = Counter()
    invalid = 0
    # event_id (as a 128-bit int, about 100 bytes per event) -> the line that first held it.
    seen: dict[int, int] = {}

    def report(line: int, field: str, reason: str) -> None:
        metrics.refused(PATH, reason)
        tqdm.write(f"line {line}: {field}: {reason}", file=sys.stderr)

    # Bytes-based: the file's size is known before a line is read, so the bar has a total,
    # a percentage, a rate and an ETA (events are counted only once the file is read).
    with progress_bar(path.stat().st_size, force_progress, "validating", unit="B") as bar:
        for parsed in parsed_lines(path, fmt, on_bytes=bar.update):
            if parsed.event is None:
                invalid += 1
                for error in parsed.errors:
                    report(error.line, error.field, error.reason)
                continue
            key = uuid.UUID(parsed.event.event_id).int
            first = seen.setdefault(key, parsed.line)
            if first != parsed.line:
                invalid += 1
                report(parsed.line, "event_id", f"duplicate event_id: line {first} has it too")
                continue
            counts[event_type(parsed.event)] += 1
    return counts, invalid


def _events(path: Path, fmt: str) -> Iterator[Event]:
    for parsed in parsed_lines(path, fmt):
        if parsed.event is None:
            first = parsed.errors[0]
            raise _ChangedWhilePublishing(
                f"line {first.line}: {first.field}: {first.reason} (it was valid in pass 1)"
            )
        yield parsed.event


def _options(args: argparse.Namespace) -> tuple[PublishSettings, str, int]:
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
            counts, invalid = _validate(path, fmt, metrics, args.progress)
            if invalid:
                return fail(
                    PROG,
                    f"{name}: {invalid:,} invalid line(s); nothing was published",
                    EXIT_INVALID,
                )
            if not counts:
                return fail(PROG, f"{name}: contains no events", EXIT_INVALID)
            if args.dry_run:
                seconds = time.monotonic() - started
                write_summary(dict(counts), seconds, args.output, "valid", sys.stdout)
                return EXIT_OK
            return _publish(
                path=path,
                fmt=fmt,
                settings=settings,
                source=source,
                counts=counts,
                metrics=metrics,
                args=args,
            )
    except InputError as err:
        return fail(PROG, str(err), EXIT_INVALID)


def _publish(
    *,
    path: Path,
    fmt: str,
    settings: PublishSettings,
    source: str,
    counts: Counter[str],
    metrics: PublishMetrics,
    args: argparse.Namespace,
) -> int:
    total = sum(counts.values())
    sent: list[str] = []

    def remembered(events: Iterator[Event]) -> Iterator[Event]:
        for event in events:
            if args.wait is not None:
                sent.append(event.event_id)
            yield event

    try:
        publisher = KafkaOrderPublisher(settings.kafka, settings.topics, source_system=source)
    except KafkaError as err:
        message = f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {err}"
        return fail(PROG, f"{message}; nothing was published", EXIT_FAILED)
    try:
        with progress_bar(total, args.progress, "publishing") as bar:
            report = publish_stream(publisher, remembered(_events(path, fmt)), bar, metrics, PATH)
    except BrokerFailure as err:
        hint = " (do the topics exist? `procledger topics create`)" if "etadata" in str(err) else ""
        return fail(
            PROG,
            f"broker failure: {err}{hint}. At least {err.confirmed:,} of {total:,} events were "
            "confirmed before it; publishing the same file again is safe (the ledger ignores "
            "duplicate event_ids)",
            EXIT_FAILED,
        )
    except _ChangedWhilePublishing as err:
        return fail(
            PROG,
            f"the input changed while it was being published: {err}; events before that line "
            "may already be on the broker (publishing the corrected file again is safe)",
            EXIT_INVALID,
        )
    finally:
        publisher.close()
    write_summary(report.counts, report.seconds, args.output, "published", sys.stdout)
    if args.wait is None:
        return EXIT_OK
    try:
        found = wait_for(PostgresStatusReader(settings.status_database_url), sent, args.wait)
    except StatusUnavailable as err:
        return fail(PROG, f"all events were published, but {err}", EXIT_FAILED)
    write_wait_report(found, args.wait, args.output, sys.stdout)
    return outcome_exit(found)
