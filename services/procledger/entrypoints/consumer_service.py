"""The consumer's entry point: the one place its adapters are wired together."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import signal
import sys
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
from procledger.adapters.postgres.standby import StandbyNotWritable
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.domain.events import EVENT_TYPES
from procledger.entrypoints.cli.exits import guarded
from procledger.entrypoints.cli.support import collect_less_often
from procledger.entrypoints.consumer_probes import ConsumerProbes, watch_kafka
from procledger.ledger.dlq import DlqOutbox
from procledger.ledger.loop import ConsumerTuning, LedgerConsumer
from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import SourceFailed
from procledger.settings import Env
from procledger.settings.consumer import ConsumerSettings

log = logging.getLogger("procledger.consume")

# The exit code when a stop signal could not finish the batch in hand in time.
EXIT_STOP_TIMEOUT = 3


def _dead_letters(
    settings: ConsumerSettings, metrics: ConsumerMetrics, heads: KafkaHeadReader
) -> tuple[KafkaDlqForwarder, PostgresDlqLog, DlqOutbox]:
    """The DLQ producer, the outbox's marks in the ledger, and the outbox over both."""
    forwarder = KafkaDlqForwarder(settings.kafka, settings.topics.dlq)
    dlq_log = PostgresDlqLog(settings.database.url)
    dlq = DlqOutbox(
        forwarder,
        dlq_log,
        metrics,
        originals=heads.records,
        before_forward=_kill_before_dlq(settings.kill_before_dlq),
    )
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


@guarded("procledger consume", {})
def run(args: argparse.Namespace) -> int:
    settings = ConsumerSettings.from_env(Env())
    # From here SIGTERM is ours: during the start-up (the schema check or the Kafka client
    # waits for a server that does not answer) nothing is in hand, so the process ends at once.
    looping = threading.Event()
    stop = _stop_on_signals(settings.stop_timeout_s, looping)
    try:
        require_relations(
            settings.database.url, LEDGER_RELATIONS, "DATABASE_URL", writer="the consumer"
        )
    except (LedgerSchemaMissing, StandbyNotWritable) as err:
        print(f"procledger consume: {err}", file=sys.stderr)
        return 2
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
    topics = [settings.topics.orders, settings.topics.stockpile_targets]
    kafka_outage, broker = watch_kafka(settings.kafka, topics, group)
    source = KafkaEventSource(
        settings.kafka,
        topics,
        group,
        session_timeout_ms=settings.session_timeout_ms,
    )
    store = PostgresLedgerStore(settings.database.url)
    # Lag in seconds, and the original records of dead-letter copies sent again.
    heads = KafkaHeadReader(settings.kafka)
    forwarder, dlq_log, dlq = _dead_letters(settings, metrics, heads)
    consumer = LedgerConsumer(
        source,
        store,
        forwarder,
        metrics,
        tuning=ConsumerTuning(
            max_records=settings.max_records,
            progress_interval_s=settings.progress_interval_s,
        ),
        head_timestamps=heads.timestamps,
        dlq=dlq,
        kafka_outage=kafka_outage,
    )
    collect_less_often()
    log.info("consuming as group %s from %s", group, settings.kafka.bootstrap_servers)
    looping.set()
    try:
        return _drive(consumer, source, store, stop, args.until_idle)
    finally:
        source.close()
        forwarder.close()
        heads.close()
        dlq_log.close()
        probes.stop()
        broker.close()
        store.close()


def _stop_on_signals(timeout_s: float, looping: threading.Event) -> threading.Event:
    """SIGTERM and SIGINT end the start-up at once (before `looping` is set) and finish the
    batch in hand, within `timeout_s`, once the loop runs; a crash in C code
    (SIGSEGV, SIGABRT...) writes every thread's stack to stderr, and `kill -USR1 <pid>` does
    so on demand: how a stuck or vanished consumer is read."""
    stop = threading.Event()

    def give_up() -> None:
        # A frozen PostgreSQL (SIGSTOP, a paused VM) never answers and no server-side limit
        # runs: the loop is blocked inside a statement. Ending the process closes its
        # connections, and a transaction never committed is rolled back whole by the server
        # (exactly once holds: the batch is applied again by whoever owns the partition).
        log.error(
            "stopping: the batch in hand did not finish within %ds of the signal "
            "(CONSUMER_STOP_TIMEOUT_S; the database or Kafka does not answer); exiting with "
            "it uncommitted",
            timeout_s,
        )
        os._exit(EXIT_STOP_TIMEOUT)

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        if not looping.is_set():
            log.info("received %s during the start-up: exiting (nothing was applied)", name)
            os._exit(0)
        log.info("received %s: finishing the current batch", name)
        if not stop.is_set():
            watchdog = threading.Timer(timeout_s, give_up)
            watchdog.daemon = True  # a clean exit before the limit does not wait for it
            watchdog.start()
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    faulthandler.enable(all_threads=True)
    faulthandler.register(signal.SIGUSR1, all_threads=True)
    return stop


def _drive(
    consumer: LedgerConsumer,
    source: KafkaEventSource,
    store: PostgresLedgerStore,
    stop: threading.Event,
    until_idle: float | None,
) -> int:
    """Run the loop; 0 when stopped or idle, 1 with the reason logged when it failed."""
    try:
        if until_idle is None:
            consumer.run(stop)
        else:
            _run_until_idle(consumer, source, store, stop, until_idle)
    except SourceFailed as err:
        log.error("stopping: Kafka refused this consumer: %s", err)
        return 1
    except Exception:
        # Said in the log's own format (LOG_FORMAT=json too), then a non-zero exit: a
        # consumer never ends without a line saying why.
        log.critical("stopping on an unexpected error", exc_info=True)
        return 1
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
