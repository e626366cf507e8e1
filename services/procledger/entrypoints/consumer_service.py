"""The consumer's entry point: the one place its adapters are wired together."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    start_http_server,
)

from procledger.adapters.kafka.dlq import KafkaDlqForwarder
from procledger.adapters.kafka.heads import KafkaHeadReader
from procledger.adapters.kafka.source import KafkaEventSource
from procledger.adapters.postgres.dlq import PostgresDlqLog
from procledger.adapters.postgres.migrations import (
    LEDGER_RELATIONS,
    LedgerSchemaMissing,
    SchemaCheckUnavailable,
    require_relations,
)
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.domain.events import EVENT_TYPES
from procledger.entrypoints.cli.exits import EXIT_USAGE, guarded
from procledger.entrypoints.cli.support import collect_less_often
from procledger.entrypoints.consumer_probes import ConsumerProbes
from procledger.ledger.dlq import DlqOutbox
from procledger.ledger.loop import ConsumerTuning, LedgerConsumer
from procledger.ledger.metrics import ConsumerMetrics
from procledger.settings import Env
from procledger.settings.consumer import ConsumerSettings

log = logging.getLogger("procledger.consume")


def _dead_letters(
    settings: ConsumerSettings, metrics: ConsumerMetrics, heads: KafkaHeadReader
) -> tuple[KafkaDlqForwarder, PostgresDlqLog, DlqOutbox]:
    """The DLQ producer, the outbox's marks in the ledger, and the outbox over both."""
    forwarder = KafkaDlqForwarder(settings.kafka, settings.topics.dlq)
    dlq_log = PostgresDlqLog(settings.database.url)
    dlq = DlqOutbox(
        forwarder, dlq_log, metrics, originals=heads.records,
        before_forward=_kill_before_dlq(settings.kill_before_dlq),
    )  # fmt: skip
    return forwarder, dlq_log, dlq


def _kill_before_dlq(after: int) -> Callable[[], None] | None:
    """The fault suite's crash between a batch's commit and its dead-letter copies: SIGKILL
    this process on the `after`-th committed batch that has rejections (0: never)."""
    if after <= 0:
        return None
    seen = [0]

    def hook() -> None:
        seen[0] += 1
        if seen[0] >= after:
            log.warning("PROCLEDGER_FAULT_KILL_BEFORE_DLQ: SIGKILL before forwarding")
            os.kill(os.getpid(), signal.SIGKILL)

    return hook


@guarded("procledger consume", {LedgerSchemaMissing: EXIT_USAGE})
def run(args: argparse.Namespace) -> int:
    settings = ConsumerSettings.from_env(Env())
    try:
        require_relations(settings.database.url, LEDGER_RELATIONS, "DATABASE_URL")
    except SchemaCheckUnavailable as err:
        # Not a reason to stop: the loop retries an unavailable database like any outage.
        log.warning("could not check the ledger's tables at start: %s", err)
    group = args.group or settings.group
    registry = CollectorRegistry()
    metrics = ConsumerMetrics(registry, event_types=EVENT_TYPES)
    # process_start_time_seconds, CPU and memory, and the Python version, as any exporter has.
    registry.register(PROCESS_COLLECTOR)
    registry.register(PLATFORM_COLLECTOR)
    # Background probes: a scrape reads their last answer and never waits on PostgreSQL.
    probes = ConsumerProbes.start(settings.database.url, metrics, registry)
    port = settings.metrics_port if args.metrics_port is None else args.metrics_port
    if port:
        start_http_server(port, addr="0.0.0.0", registry=registry)  # noqa: S104 - scraped
        log.info("metrics on http://0.0.0.0:%d/metrics", port)
    source = KafkaEventSource(
        settings.kafka,
        [settings.topics.orders, settings.topics.stockpile_targets],
        group,
        session_timeout_ms=settings.session_timeout_ms,
    )
    store = PostgresLedgerStore(settings.database.url)
    # Lag in seconds, and the original records of dead-letter copies sent again.
    heads = KafkaHeadReader(settings.kafka)
    forwarder, dlq_log, dlq = _dead_letters(settings, metrics, heads)
    consumer = LedgerConsumer(
        source, store, forwarder, metrics,
        tuning=ConsumerTuning(
            max_records=settings.max_records, prefetch=True,
            progress_interval_s=settings.progress_interval_s,
        ),
        head_timestamps=heads.timestamps, dlq=dlq,
    )  # fmt: skip
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s: finishing the current batch", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    # `kill -USR1 <pid>` writes every thread's stack to stderr: how a stuck consumer is read.
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    collect_less_often()
    log.info("consuming as group %s from %s", group, settings.kafka.bootstrap_servers)
    try:
        if args.until_idle is None:
            consumer.run(stop)
        else:
            _run_until_idle(consumer, source, store, stop, args.until_idle)
    finally:
        consumer.close()  # joins a prefetch in flight before the source closes under it
        source.close()
        forwarder.close()
        heads.close()
        dlq_log.close()
        probes.stop()
        store.close()
    return 0


def _run_until_idle(
    consumer: LedgerConsumer,
    source: KafkaEventSource,
    store: PostgresLedgerStore,
    stop: threading.Event,
    idle_s: float,
) -> None:
    last_work = time.monotonic()
    while not stop.is_set():
        if consumer.step(stop):
            last_work = time.monotonic()
            continue
        if time.monotonic() - last_work < idle_s or not source.assigned():
            continue
        ends = source.end_offsets()
        positions = store.positions()
        caught_up = all(
            end == 0 or (tp in positions and positions[tp].next_offset >= end)
            for tp, end in ends.items()
        )
        if caught_up:
            log.info("idle for %.0fs with no lag: exiting", idle_s)
            return
        last_work = time.monotonic()
