"""Shared by `publish` and `scenario --publish`: progress, metrics, confirmed counts, summary."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Never, Protocol, TextIO

from kafka.errors import KafkaError
from prometheus_client import CollectorRegistry, start_http_server
from tqdm import tqdm

from procledger.adapters.kafka.publisher import KafkaOrderPublisher, PublishError, PublishReport
from procledger.domain.events import Event, event_type
from procledger.publishing.metrics import PublishMetrics


class BrokerFailure(Exception):
    """Publishing stopped: `confirmed` events are known to be on the broker, maybe more."""

    def __init__(self, message: str, confirmed: int) -> None:
        super().__init__(message)
        self.confirmed = confirmed


def progress_bar(total: int | None, force: bool, desc: str, unit: str = "events") -> tqdm[Never]:
    """A tqdm bar on stderr, shown when stderr is a terminal or `force` is set."""
    return tqdm(
        total=total,
        desc=desc,
        unit=unit,
        unit_scale=True,
        unit_divisor=1024 if unit == "B" else 1000,
        file=sys.stderr,
        disable=not (force or sys.stderr.isatty()),
        dynamic_ncols=True,
    )


@contextmanager
def metrics_exposure(registry: CollectorRegistry, port: int, linger: float) -> Iterator[None]:
    """Serve `registry` on 127.0.0.1:`port` for the run and `linger` seconds after (0: off)."""
    if not port:
        yield
        return
    # OSError (port in use) propagates before any work starts.
    server, thread = start_http_server(port, addr="127.0.0.1", registry=registry)
    try:
        yield
    finally:
        if linger > 0:
            # Leaves Prometheus (scraping every few seconds) time to read the final counts.
            threading.Event().wait(linger)
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


class Confirmations(Protocol):
    """Where `publish_stream` reports: what the broker confirmed, and what it failed."""

    def confirmed(self, kinds: Mapping[str, int], window_s: float) -> None: ...

    def failed(self, kinds: Mapping[str, int]) -> None: ...


class Tally:
    """Confirmations shown on a progress bar and counted in the publish metrics of `path`."""

    def __init__(self, bar: tqdm[Never], metrics: PublishMetrics, path: str) -> None:
        self._bar = bar
        self._metrics = metrics
        self._path = path

    def confirmed(self, kinds: Mapping[str, int], window_s: float) -> None:
        for kind, n in kinds.items():
            self._metrics.published.labels(event_type=kind, path=self._path).inc(n)
        self._metrics.latency.labels(path=self._path).observe(window_s)
        self._bar.update(sum(kinds.values()))

    def failed(self, kinds: Mapping[str, int]) -> None:
        for kind, n in kinds.items():
            self._metrics.failures.labels(event_type=kind, path=self._path).inc(n)


def publish_stream(
    publisher: KafkaOrderPublisher, events: Iterable[Event], sink: Confirmations
) -> PublishReport:
    """Publish, telling `sink` of each confirmed window; BrokerFailure says how many were
    confirmed."""
    unconfirmed: Counter[str] = Counter()
    confirmed = 0
    window_started = time.monotonic()

    def tally(source: Iterable[Event]) -> Iterator[Event]:
        for event in source:
            unconfirmed[event_type(event)] += 1
            yield event

    def on_confirmed(count: int) -> None:
        # The publisher confirms every event it has taken so far before calling back.
        nonlocal confirmed, window_started
        confirmed += count
        now = time.monotonic()
        sink.confirmed(dict(unconfirmed), now - window_started)
        unconfirmed.clear()
        window_started = now

    try:
        return publisher.publish(tally(events), progress=on_confirmed)
    except (PublishError, KafkaError) as err:
        sink.failed(dict(unconfirmed))
        raise BrokerFailure(str(err), confirmed) from err


def write_summary(
    counts: dict[str, int], seconds: float, output: str, verb: str, out: TextIO
) -> None:
    """Counts per event type, total and rate, as a table or one JSON object."""
    total = sum(counts.values())
    rate = total / seconds if seconds > 0 else 0.0
    if output == "json":
        record = {
            verb: total,
            "counts": dict(sorted(counts.items())),
            "seconds": round(seconds, 3),
            "events_per_second": round(rate, 1),
        }
        out.write(json.dumps(record) + "\n")
        return
    width = max([len("event type"), *(len(k) for k in counts)])
    lines = [f"{'event type':<{width}}  {verb:>12}"]
    lines += [f"{kind:<{width}}  {n:>12,}" for kind, n in sorted(counts.items())]
    lines.append(f"{'total':<{width}}  {total:>12,}")
    lines.append(f"{total:,} events {verb} in {seconds:.2f}s ({rate:,.0f} events/s)")
    out.write("\n".join(lines) + "\n")
