"""`procledger scenario`: the demo story or a synthetic stream, as JSON Lines or to Kafka."""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Never, TextIO

from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry
from tqdm import tqdm

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.codec.textformats import event_to_jsonl
from procledger.domain.events import Event, event_type
from procledger.entrypoints.cli.exits import EXIT_FAILED, EXIT_OK, EXIT_USAGE, fail
from procledger.publishing.metrics import PublishMetrics
from procledger.publishing.runner import (
    BrokerFailure,
    Tally,
    metrics_exposure,
    progress_bar,
    publish_stream,
    write_summary,
)
from procledger.scenario import story_events, synthetic_events, synthetic_placed
from procledger.settings import Env, SettingsError
from procledger.settings.publishing import PublishSettings, check_source_system

PROG = "procledger scenario"
PATH = "cli"


def _check(args: argparse.Namespace) -> None:
    """Raises SettingsError naming the option when the combination makes no sense."""
    if args.events is None:
        for option, value in (("--orders", args.orders), ("--seed", args.seed)):
            if value is not None:
                raise SettingsError(f"{option} needs --events (the story has fixed events)")
        if args.placed_only:
            raise SettingsError("--placed-only needs --events (the story has fixed events)")
        return
    if args.events < 0:
        raise SettingsError(f"--events must be >= 0, got {args.events}")
    if args.orders is not None and args.orders < 0:
        raise SettingsError(f"--orders must be >= 0, got {args.orders}")
    if args.placed_only and args.orders is not None:
        raise SettingsError("--orders and --placed-only exclude each other (every event is one)")
    if args.publish and args.out is not None:
        raise SettingsError("--out and --publish exclude each other")


def _events(args: argparse.Namespace) -> tuple[Iterable[Event], int]:
    """The events (lazily for synthetic streams) and how many there are."""
    if args.events is None:
        story = story_events()
        return story, len(story)
    seed = 1 if args.seed is None else args.seed
    if args.placed_only:
        return synthetic_placed(args.events, seed=seed), args.events
    return synthetic_events(args.events, args.orders, seed=seed), args.events


def _write(events: Iterable[Event], out: TextIO, bar: tqdm[Never]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for event in events:
        out.write(event_to_jsonl(event))
        out.write("\n")
        counts[event_type(event)] += 1
        bar.update(1)
    return counts


def run(args: argparse.Namespace) -> int:
    try:
        _check(args)
        settings = PublishSettings.from_env(Env())
        source = check_source_system(args.source_system or "scenario", "--source-system")
    except SettingsError as err:
        return fail(PROG, str(err), EXIT_USAGE)
    events, total = _events(args)
    if args.publish:
        return _publish(settings, source, events, total, args)
    started = time.monotonic()
    try:
        with progress_bar(total, args.progress, "writing") as bar:
            if args.out is None:
                counts = _write(events, sys.stdout, bar)
                sys.stdout.flush()
            else:
                with Path(args.out).open("w", encoding="utf-8") as out:
                    counts = _write(events, out, bar)
    except OSError as err:
        return fail(PROG, f"cannot write {args.out or 'standard output'}: {err}", EXIT_USAGE)
    # The summary goes to stderr: stdout may be the JSON Lines themselves.
    write_summary(dict(counts), time.monotonic() - started, args.output, "written", sys.stderr)
    return EXIT_OK


def _publish(
    settings: PublishSettings,
    source: str,
    events: Iterable[Event],
    total: int,
    args: argparse.Namespace,
) -> int:
    registry = CollectorRegistry()
    metrics = PublishMetrics(registry)
    try:
        publisher = KafkaOrderPublisher(settings.kafka, settings.topics, source_system=source)
    except KafkaError as err:
        return fail(
            PROG, f"cannot reach Kafka at {settings.kafka.bootstrap_servers}: {err}", EXIT_FAILED
        )
    try:
        with (
            metrics_exposure(registry, settings.metrics_port, 0),
            progress_bar(total, args.progress, "publishing") as bar,
        ):
            report = publish_stream(publisher, events, Tally(bar, metrics, PATH))
    except BrokerFailure as err:
        return fail(
            PROG,
            f"broker failure: {err}. At least {err.confirmed:,} of {total:,} events were "
            "confirmed before it; running the same scenario again is safe (same event_ids)",
            EXIT_FAILED,
        )
    except OSError as err:
        return fail(
            PROG, f"cannot serve metrics on port {settings.metrics_port}: {err}", EXIT_USAGE
        )
    finally:
        publisher.close()
    write_summary(report.counts, report.seconds, args.output, "published", sys.stdout)
    return EXIT_OK
