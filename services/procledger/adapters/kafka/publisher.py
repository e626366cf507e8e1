"""KafkaOrderPublisher: the one producer every publishing path uses (idempotent, acks=all)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field

from kafka import KafkaProducer
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata, RecordMetadata

from procledger.adapters.kafka.partitioning import RecentKeysPartitioner
from procledger.codec.avro import encode
from procledger.domain.events import EVENT_TYPES, Event, event_key, event_type
from procledger.settings import KafkaSettings, Topics

CONTENT_TYPE = b"application/vnd.apache.avro+single-object"
log = logging.getLogger(__name__)


class PublishError(Exception):
    """The broker did not confirm an event; nothing after it is reported as published."""


@dataclass(frozen=True, slots=True)
class Published:
    event_id: str
    event_type: str
    topic: str
    partition: int
    offset: int


@dataclass(slots=True)
class PublishReport:
    """What the broker confirmed: counts per event type, and the time it took."""

    counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class KafkaOrderPublisher:
    """Encodes events as Avro single-object records and waits for the broker's acks."""

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Topics,
        source_system: str = "procledger",
        linger_ms: int = 10,
        batch_size: int = 256 * 1024,
        *,
        delivery_timeout_s: float | None = None,
    ) -> None:
        source = source_system.encode()
        # Per event type, what every record of it carries: its topic and its headers (one
        # list each, shared by the records: the producer only reads them).
        self._routes = {
            kind: (
                topics.for_event_type(kind),
                [
                    ("event_type", kind.encode()),
                    ("source_system", source),
                    ("content_type", CONTENT_TYPE),
                ],
            )
            for kind in EVENT_TYPES
        }
        limits: dict[str, int] = {}
        if delivery_timeout_s is not None:
            # A caller waiting at most this long: the producer gives up on a record then too
            # (no doomed backlog in a long outage), never blocks send() longer, and times out
            # a request at half of it so one retry still fits.
            ms = max(2000, int(delivery_timeout_s * 1000))
            limits = {
                "delivery_timeout_ms": ms,
                "max_block_ms": ms,
                "request_timeout_ms": max(1000, ms // 2 - linger_ms),
            }
        self._producer = KafkaProducer(
            acks="all",
            enable_idempotence=True,
            linger_ms=linger_ms,
            batch_size=batch_size,
            max_in_flight_requests_per_connection=5,
            partitioner=RecentKeysPartitioner(),
            client_id=f"procledger-publisher-{source_system}",
            **limits,
            **kafka.client_config(),
        )

    def _send(self, event: Event) -> FutureRecordMetadata:
        topic, headers = self._routes[event_type(event)]
        return self._producer.send(
            topic, value=encode(event), key=event_key(event).encode(), headers=headers
        )

    def publish(
        self,
        events: Iterable[Event],
        progress: Callable[[int], None] | None = None,
        window: int = 20_000,
    ) -> PublishReport:
        """Send every event and return only once the broker acknowledged all of them.

        Futures are checked in windows so a million events never pile up in memory; the
        first failure raises PublishError naming the event (earlier ones are confirmed).
        """
        report = PublishReport()
        started = time.monotonic()
        pending: list[tuple[Event, FutureRecordMetadata]] = []
        for event in events:
            pending.append((event, self._send(event)))
            if len(pending) >= window:
                self._confirm(pending, report, progress)
                pending = []
        self._confirm(pending, report, progress)
        report.seconds = time.monotonic() - started
        return report

    def submit(self, events: Iterable[Event]) -> list[Future[Published]]:
        """Hand the events to the producer without waiting for the broker (the intake's path).

        Each future resolves with the event's coordinates once the broker confirmed it, or
        fails with PublishError; the caller decides how long to wait. Unlike flush(), which
        waits for every record of every caller, nothing here blocks on other requests.
        """
        results: list[Future[Published]] = []
        for event in events:
            result: Future[Published] = Future()
            results.append(result)
            try:
                sent = self._send(event)
            except KafkaError as err:  # no metadata or no buffer within max_block_ms
                result.set_exception(self._error(event, err))
                continue
            sent.add_callback(self._confirmed, event, result)
            sent.add_errback(self._failed, event, result)
        return results

    @staticmethod
    def _confirmed(event: Event, result: Future[Published], meta: RecordMetadata) -> None:
        result.set_result(
            Published(event.event_id, event_type(event), meta.topic, meta.partition, meta.offset)
        )

    @classmethod
    def _failed(cls, event: Event, result: Future[Published], err: Exception) -> None:
        result.set_exception(cls._error(event, err))

    @staticmethod
    def _error(event: Event, err: Exception) -> PublishError:
        error = PublishError(f"broker did not confirm {event_type(event)} {event.event_id}: {err}")
        error.__cause__ = err
        return error

    def _confirm(
        self,
        pending: list[tuple[Event, FutureRecordMetadata]],
        report: PublishReport,
        progress: Callable[[int], None] | None,
    ) -> None:
        self._producer.flush()
        for event, future in pending:
            self._result(event, future)
            kind = event_type(event)
            report.counts[kind] = report.counts.get(kind, 0) + 1
        if progress is not None and pending:
            progress(len(pending))

    @staticmethod
    def _result(event: Event, future: FutureRecordMetadata) -> FutureRecordMetadata:
        try:
            return future.get(timeout=60)
        except KafkaError as err:
            raise KafkaOrderPublisher._error(event, err) from err

    def close(self, timeout_s: float = 30) -> None:
        """Close the producer; records still unconfirmed after `timeout_s` are dropped (their
        callers were told: a PublishError, or the intake's 503)."""
        try:
            self._producer.close(timeout=timeout_s)
        except KafkaError as err:
            # kafka-python's close() raises from its flush() before stopping the sender, a
            # daemon thread that ends with the process: an exit code 1 for nothing.
            log.warning("Kafka producer closed with records unconfirmed: %s", err)
