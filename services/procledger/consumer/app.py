"""The consumer's entry point: the one place its adapters are wired together."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import sys
import threading
import time
from dataclasses import dataclass
from types import FrameType

from prometheus_client import (
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    start_http_server,
)

from procledger.adapters.kafka_dlq import KafkaDlqForwarder
from procledger.adapters.kafka_heads import KafkaHeadReader
from procledger.adapters.kafka_source import KafkaEventSource
from procledger.adapters.postgres_store import PostgresLedgerStore, StoreConflict, StoreUnavailable
from procledger.cli_support import collect_less_often
from procledger.consumer.health import ConsumerProbes
from procledger.consumer.metrics import ConsumerMetrics
from procledger.consumer.service import ConsumerTuning, LedgerConsumer
from procledger.domain.events import EVENT_TYPES
from procledger.settings import DatabaseSettings, Env, KafkaSettings, SettingsError, Topics

log = logging.getLogger("procledger.consume")


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """CONSUMER_GROUP, CONSUMER_METRICS_PORT, CONSUMER_MAX_RECORDS, CONSUMER_SESSION_TIMEOUT_MS,
    CONSUMER_PROGRESS_INTERVAL_S."""

    kafka: KafkaSettings
    topics: Topics
    database: DatabaseSettings
    group: str
    metrics_port: int
    max_records: int
    session_timeout_ms: int
    progress_interval_s: int = 30

    @classmethod
    def from_env(cls, env: Env) -> ConsumerSettings:
        return cls(
            kafka=KafkaSettings.from_env(env),
            topics=Topics.from_env(env),
            database=DatabaseSettings.from_env(env),
            group=env.text("CONSUMER_GROUP", "procledger-ledger"),
            metrics_port=env.integer("CONSUMER_METRICS_PORT", 9410, maximum=65535),
            max_records=env.integer("CONSUMER_MAX_RECORDS", 5000, minimum=1, maximum=100_000),
            session_timeout_ms=env.integer(
                "CONSUMER_SESSION_TIMEOUT_MS", 10_000, minimum=1000, maximum=300_000
            ),
            progress_interval_s=env.integer("CONSUMER_PROGRESS_INTERVAL_S", 30, maximum=86_400),
        )


def run(args: argparse.Namespace) -> int:
    try:
        settings = ConsumerSettings.from_env(Env())
    except SettingsError as err:
        print(f"procledger consume: {err}", file=sys.stderr)
        return 2
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
    forwarder = KafkaDlqForwarder(settings.kafka, settings.topics.dlq)
    heads = KafkaHeadReader(settings.kafka)  # for procledger_consumer_lag_seconds
    consumer = LedgerConsumer(
        source, store, forwarder, metrics,
        unavailable=(StoreUnavailable,), conflicts=(StoreConflict,),
        tuning=ConsumerTuning(
            max_records=settings.max_records, prefetch=True,
            progress_interval_s=settings.progress_interval_s,
        ),
        head_timestamps=heads.timestamps,
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
