"""`publish --workers N`: a validated file's events split by key over N producer processes.

Every event of one key (an order, or a country's stockpile target) goes to the same worker,
which sends in file order through an idempotent producer: per-key order holds as with one
process. Pass 1 (in the parent) decides each line's worker, so a worker skips the others'
lines before parsing them and the parse, encode and send work is split N ways.
"""

from __future__ import annotations

import multiprocessing
import queue
import signal
import time
import zlib
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from multiprocessing.queues import Queue
from pathlib import Path
from typing import Any

from kafka.errors import KafkaError

from procledger.adapters.kafka.publisher import KafkaOrderPublisher, PublishReport
from procledger.domain.events import Event, event_key
from procledger.publishing.inputs import InputChanged, valid_events
from procledger.publishing.runner import BrokerFailure, Confirmations, publish_stream
from procledger.settings import KafkaSettings, Topics

NO_WORKER = 0xFF  # a line with no event (blank, or the CSV header)


def worker_of(event: Event, workers: int) -> int:
    """The worker that publishes `event`: crc32 of its key (stable across runs, unlike hash)."""
    return zlib.crc32(event_key(event).encode()) % workers


class WorkerLost(BrokerFailure):
    """A worker process ended without saying how (killed, or out of memory)."""


@dataclass(frozen=True, slots=True)
class ShardedFile:
    """A file pass 1 accepted, and the worker of each line (`lines[n]` for line n)."""

    path: Path
    fmt: str
    lines: bytes
    workers: int


@dataclass(frozen=True, slots=True)
class Producer:
    """What each worker needs to open its own producer (settings cross the process line)."""

    kafka: KafkaSettings
    topics: Topics
    source_system: str
    linger_ms: int


def publish_file(file: ShardedFile, producer: Producer, sink: Confirmations) -> PublishReport:
    """Pass 2 of `publish`: in this process for one worker, else in `file.workers` processes.

    Raises BrokerFailure (the count confirmed before it) or InputChanged.
    """
    if file.workers > 1:
        return _publish_sharded(file, producer, sink)
    publisher = _open(producer)
    try:
        return publish_stream(publisher, (e for _, e in valid_events(file.path, file.fmt)), sink)
    finally:
        publisher.close()


def _open(producer: Producer) -> KafkaOrderPublisher:
    try:
        return KafkaOrderPublisher(
            producer.kafka,
            producer.topics,
            source_system=producer.source_system,
            linger_ms=producer.linger_ms,
        )
    except KafkaError as err:
        reason = f"cannot reach Kafka at {producer.kafka.bootstrap_servers}: {err}"
        raise BrokerFailure(reason, 0) from err


def _publish_sharded(file: ShardedFile, producer: Producer, sink: Confirmations) -> PublishReport:
    """Publish with `file.workers` processes; returns once every worker's events are confirmed.

    The first failure stops the other workers and raises BrokerFailure (WorkerLost for a
    worker that died) with the count confirmed so far, or InputChanged; events sent but not
    confirmed may be on the broker, which is why publishing the file again is safe.
    """
    # spawn, not fork: the parent may run a metrics server thread, and a fresh interpreter
    # holds no copy of a lock some thread had taken.
    context = multiprocessing.get_context("spawn")
    messages: Queue[tuple[Any, ...]] = context.Queue()
    processes = [
        context.Process(
            target=_work,
            args=(file, index, producer, messages),
            name=f"procledger-publish-{index}",
            daemon=True,
        )
        for index in range(file.workers)
    ]
    started = time.monotonic()
    report = PublishReport()
    confirmed = 0
    finished: set[int] = set()
    try:
        for process in processes:
            process.start()
        while len(finished) < file.workers:
            try:
                message = messages.get(timeout=0.5)
            except queue.Empty:
                _check_alive(processes, finished, confirmed)
                continue
            kind, index, *body = message
            if kind == "confirmed":
                kinds, window_s = body
                confirmed += sum(kinds.values())
                sink.confirmed(kinds, window_s)
            elif kind == "done":
                for name, n in body[0].items():
                    report.counts[name] = report.counts.get(name, 0) + n
                finished.add(index)
            elif kind == "failed":
                sink.failed(body[0])
                raise BrokerFailure(f"worker {index}: {body[1]}", confirmed)
            else:  # "changed"
                raise InputChanged(body[0])
    finally:
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join(timeout=10)
        messages.close()
    report.seconds = time.monotonic() - started
    return report


def _check_alive(processes: list[Any], finished: set[int], confirmed: int) -> None:
    for index, process in enumerate(processes):
        # Exit code 0 means its "done" or "failed" is already in the pipe: read on.
        if index not in finished and process.exitcode not in (None, 0):
            raise WorkerLost(
                f"publishing worker {index} ended with exit code {process.exitcode} "
                "before reporting its events confirmed",
                confirmed,
            )


class _Forward:
    """A worker's Confirmations: each window goes to the parent, which owns bar and metrics."""

    def __init__(self, messages: Queue[tuple[Any, ...]], index: int) -> None:
        self._messages = messages
        self._index = index
        self.failed_kinds: dict[str, int] = {}

    def confirmed(self, kinds: Mapping[str, int], window_s: float) -> None:
        self._messages.put(("confirmed", self._index, dict(kinds), window_s))

    def failed(self, kinds: Mapping[str, int]) -> None:
        self.failed_kinds = dict(kinds)


def _mine(file: ShardedFile, index: int) -> Iterator[Event]:
    lines = file.lines
    for line, event in valid_events(
        file.path, file.fmt, keep=lambda n: n < len(lines) and lines[n] == index
    ):
        if worker_of(event, file.workers) != index:
            raise InputChanged(f"line {line}: not the event pass 1 read there")
        yield event


def _work(
    file: ShardedFile, index: int, producer: Producer, messages: Queue[tuple[Any, ...]]
) -> None:
    # Ctrl-C reaches the whole process group; the parent decides and stops the workers.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    forward = _Forward(messages, index)
    try:
        publisher = _open(producer)
    except BrokerFailure as err:
        messages.put(("failed", index, {}, str(err)))
        return
    try:
        report = publish_stream(publisher, _mine(file, index), forward)
    except BrokerFailure as err:
        messages.put(("failed", index, forward.failed_kinds, str(err)))
    except InputChanged as err:
        messages.put(("changed", index, str(err)))
    else:
        messages.put(("done", index, Counter(report.counts)))
    finally:
        publisher.close()
