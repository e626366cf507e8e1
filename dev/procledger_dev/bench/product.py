"""The product measured as it runs: `procledger consume` processes, latency, rebuild."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.heads import KafkaHeadReader
from procledger.adapters.kafka.source import KafkaEventSource
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.domain.state import LedgerState
from procledger.entrypoints.cli.support import collect_less_often
from procledger.ledger.loop import LedgerConsumer
from procledger.ledger.metrics import ConsumerMetrics
from procledger.ledger.ports import (
    BatchWrite,
    LedgerTransaction,
    Position,
    StateKeys,
    TopicPartition,
)
from procledger.settings import DatabaseSettings, KafkaSettings, Topics
from procledger_dev.stack.config import StackConfig
from procledger_dev.stack.kafka import node_pid_file
from procledger_dev.stack.procs import read_pid


@dataclass(frozen=True, slots=True)
class BenchEnv:
    """Where one benchmark run puts its data: unique topics, databases and groups."""

    run: str
    kafka: KafkaSettings
    topics: Topics
    base: DatabaseSettings  # URLs whose database name is replaced per measurement
    log_dir: Path

    def database(self, name: str) -> DatabaseSettings:
        db = f"bench_{self.run}_{name}"
        return DatabaseSettings(
            url=self.base.url.rsplit("/", 1)[0] + f"/{db}",
            admin_url=self.base.admin_url.rsplit("/", 1)[0] + f"/{db}",
        )

    def process_env(self, database: DatabaseSettings, topics: Topics, group: str) -> dict[str, str]:
        """The environment of a `procledger` child process pointed at this run's data."""
        return {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": self.kafka.bootstrap_servers,
            "DATABASE_URL": database.url,
            "DATABASE_ADMIN_URL": database.admin_url,
            "TOPIC_ORDERS": topics.orders,
            "TOPIC_STOCKPILE_TARGETS": topics.stockpile_targets,
            "TOPIC_DLQ": topics.dlq,
            "CONSUMER_GROUP": group,
            "CONSUMER_METRICS_PORT": "0",
            "LOG_LEVEL": "WARNING",
        }


AUDITOR = "procledger_auditor"  # the read-only role; migrate() gives it the password of its name


def auditor_url(url: str, port: int | None = None) -> str:
    """The database of `url` as the auditor role (a local stack's), on `port` if given (the
    stack's replica)."""
    parts = urlsplit(url)
    host = parts.hostname if port is not None else parts.netloc.rsplit("@", 1)[-1]
    where = f"{host}:{port}" if port is not None else host
    return urlunsplit(parts._replace(netloc=f"{AUDITOR}:{AUDITOR}@{where}"))


def applied_offsets(conn: psycopg.Connection[Any]) -> int:
    """Offsets the ledger accounts for (journal plus rejections), from the positions."""
    row = conn.execute("SELECT coalesce(sum(next_offset), 0) FROM ledger.positions").fetchone()
    return int(row[0]) if row else 0


def peak_rss_mb(pid: int) -> float:
    """VmHWM (the peak resident set) of a live process, in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for pid {pid}")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a live process has used (its threads included)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


TICK = os.sysconf("SC_CLK_TCK")


def _ticks(pid: int, children: bool) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime, stime; cutime and cstime hold the CPU of children the process has reaped.
    return sum(int(f) for f in fields[11 : 15 if children else 13])


def server_cpu_s(postmaster: int) -> float:
    """CPU seconds of a local PostgreSQL server: the postmaster, every live child, and every
    child that has exited (the postmaster reaps them, so their CPU is in its cutime)."""
    total = _ticks(postmaster, children=True)
    for task in Path("/proc").iterdir():
        if not task.name.isdigit():
            continue
        try:
            stat = (task / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[1]) == postmaster:
                total += _ticks(int(task.name), children=False)
        except (OSError, ValueError):
            continue  # exited meanwhile: its CPU moved into the postmaster's cutime
    return total / TICK


def postmaster_pid(url: str) -> int:
    """The server's postmaster: the parent of this connection's backend (a local server)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        # Read while connected: the backend exits when the connection closes.
        stat = Path(f"/proc/{row[0]}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def broker_cpu_s() -> float | None:
    """CPU seconds of the local stack's brokers (STACK_* settings), None if none runs here."""
    cfg = StackConfig.from_env()
    pids = [read_pid(node_pid_file(cfg, n)) for n in range(1, cfg.kafka_brokers + 1)]
    alive = [p for p in pids if p is not None]
    return sum(cpu_seconds(p) for p in alive) if alive else None


@dataclass(frozen=True, slots=True)
class ConsumeResult:
    """One end-to-end run: wall time from process start, and from the first commit."""

    processes: int
    events: int
    seconds: float
    steady_rate: float  # events/s between the first commit seen and the last
    peak_rss_mb: tuple[float, ...]
    cpu_s: tuple[float, ...]  # each consumer process's CPU time (user + system)
    journal_rows: int
    rejections: int
    postgres_cpu_s: float  # the whole server's, over the same span
    broker_cpu_s: float | None

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def consume(
    bench: BenchEnv, database: DatabaseSettings, processes: int, total: int, timeout_s: float
) -> ConsumeResult:
    """Start `processes` ledger consumers (one group) on a fresh ledger; time them until every
    offset is committed to the ledger, read each one's peak RSS, then stop them with SIGTERM."""
    env = bench.process_env(database, bench.topics, f"bench.{database.url.rsplit('/', 1)[1]}")
    logs = [(bench.log_dir / f"consume-{processes}-{i}.log").open("wb") for i in range(processes)]
    postmaster = postmaster_pid(database.admin_url)
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        pg_before, broker_before = server_cpu_s(postmaster), broker_cpu_s()
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "procledger", "consume"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
            for log in logs
        ]
        try:
            first: tuple[float, int] | None = None
            while True:
                done = applied_offsets(conn)
                now = time.perf_counter()
                if done and first is None:
                    first = (now, done)
                if done >= total:
                    break
                if any(p.poll() is not None for p in procs):
                    raise RuntimeError(f"a consumer exited early; see {bench.log_dir}")
                if now - started > timeout_s:
                    raise RuntimeError(f"{done} of {total} offsets after {timeout_s:.0f}s")
                time.sleep(0.05)
            elapsed = now - started
            rss = tuple(peak_rss_mb(p.pid) for p in procs)
            cpu = tuple(cpu_seconds(p.pid) for p in procs)
            pg_cpu = server_cpu_s(postmaster) - pg_before
            broker_after = broker_cpu_s()
            broker = None if broker_after is None else broker_after - (broker_before or 0.0)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.send_signal(signal.SIGTERM)
            for p in procs:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    p.kill()
                    p.wait()
            for log in logs:
                log.close()
        journal, rejections = conn.execute(
            "SELECT (SELECT count(*) FROM ledger.journal), (SELECT count(*) FROM ledger.rejections)"
        ).fetchone() or (0, 0)
    assert first is not None
    steady = (total - first[1]) / (elapsed - (first[0] - started)) if total > first[1] else 0.0
    return ConsumeResult(
        processes, total, elapsed, steady, rss, cpu, int(journal), int(rejections), pg_cpu, broker
    )


class _TimedTransaction:
    """Passes calls through and keeps the batch it wrote, for the commit-time stamp."""

    def __init__(self, inner: LedgerTransaction) -> None:
        self._inner = inner
        self.batch: BatchWrite | None = None

    def lock_positions(
        self, partitions: Any, recorded_at: datetime | None = None
    ) -> dict[TopicPartition, Position]:  # pragma: no cover - plain delegation
        return self._inner.lock_positions(partitions, recorded_at)

    def load_state(self, keys: StateKeys) -> LedgerState:  # pragma: no cover - delegation
        return self._inner.load_state(keys)

    def lock_and_load(
        self, partitions: Any, keys: StateKeys, recorded_at: datetime | None = None
    ) -> tuple[dict[TopicPartition, Position], LedgerState]:
        return self._inner.lock_and_load(partitions, keys, recorded_at)

    def write(self, batch: BatchWrite) -> None:
        self._inner.write(batch)
        self.batch = batch


@dataclass(frozen=True, slots=True)
class BatchStamps:
    """Where one batch's oldest event spent its time: queued (its Kafka timestamp to the
    transaction's start: the producer's linger, the fetch, decoding, waiting for the batch
    before) and in the transaction (its start to COMMIT returned)."""

    events: int
    queued_s: float
    transaction_s: float


class TimedStore:
    """PostgresLedgerStore that records, per journal row, commit time minus Kafka timestamp,
    and per batch its BatchStamps.

    The stamp is taken when COMMIT has returned to the client, so it bounds the moment the
    row became durable and visible from above; the Kafka timestamp is the producer's
    CreateTime, stamped by KafkaOrderPublisher's client when the event was sent.
    """

    def __init__(self, url: str) -> None:
        self._store = PostgresLedgerStore(url)
        self.latencies_s: list[float] = []
        self.batches: list[BatchStamps] = []

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        timed: _TimedTransaction | None = None
        began = time.time()
        with self._store.transaction() as tx:
            timed = _TimedTransaction(tx)
            yield timed
        committed = time.time()
        if timed.batch is None:
            return
        stamps = [
            e.kafka_timestamp.timestamp()
            for e in timed.batch.journal
            if e.kafka_timestamp is not None
        ]
        self.latencies_s.extend(committed - t for t in stamps)
        if stamps:
            self.batches.append(BatchStamps(len(stamps), began - min(stamps), committed - began))

    def positions(self) -> dict[TopicPartition, Position]:
        return self._store.positions()

    def close(self) -> None:
        self._store.close()


@dataclass(frozen=True, slots=True)
class LatencyRun:
    """Per-event publish-to-commit latencies (s, sorted), each batch's stamps, and what the
    paced publisher reports (events, seconds: it may fall short of the rate)."""

    latencies_s: list[float]
    batches: list[BatchStamps]
    sent: dict[str, float]


def latency(
    bench: BenchEnv, topics: Topics, database: DatabaseSettings, rate: int, seconds: float
) -> LatencyRun:
    """Publish-to-commit latencies at a steady publish rate.

    The ledger consumer runs in this process (the product's adapters and loop, defaults
    as `procledger consume` uses them, and its garbage collector tuned as that command
    tunes it) with TimedStore; the paced publisher runs in a child process so the two never
    share an interpreter lock.
    """
    with _collecting_as_the_consumer():
        return _latency(bench, topics, database, rate, seconds)


@contextmanager
def _collecting_as_the_consumer() -> Iterator[None]:
    """This process's cyclic GC as `procledger consume` sets it, put back afterwards (the
    other figures are measured with the interpreter's defaults)."""
    thresholds = gc.get_threshold()
    collect_less_often()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*thresholds)


def _latency(
    bench: BenchEnv, topics: Topics, database: DatabaseSettings, rate: int, seconds: float
) -> LatencyRun:
    store = TimedStore(database.url)
    source = KafkaEventSource(
        bench.kafka, [topics.orders, topics.stockpile_targets], f"bench.{bench.run}.latency"
    )
    # Lag in seconds reads the head records every lag interval, as `procledger consume` does:
    # a slow read stalls the loop, and the latency must show it.
    heads = KafkaHeadReader(bench.kafka)
    consumer = LedgerConsumer(
        source, store, None, ConsumerMetrics(CollectorRegistry()),
        head_timestamps=heads.timestamps,
    )  # fmt: skip
    stop = threading.Event()
    worker = threading.Thread(target=consumer.run, args=(stop,), name="bench-consumer")
    worker.start()
    try:
        deadline = time.monotonic() + 60
        while not source.assigned():
            if time.monotonic() > deadline:
                raise RuntimeError("the latency consumer got no partitions in 60s")
            time.sleep(0.1)
        env = bench.process_env(database, topics, "unused")
        result = subprocess.run(
            [sys.executable, "-m", "procledger_dev.bench.pace", "--rate", str(rate),
             "--seconds", str(seconds)],
            env=env, capture_output=True, text=True, check=True, timeout=seconds * 3 + 120,
        )  # fmt: skip
        sent: dict[str, float] = json.loads(result.stdout)  # events, seconds
        published = int(sent["events"])
        deadline = time.monotonic() + 120
        with psycopg.connect(database.admin_url, autocommit=True) as conn:
            while applied_offsets(conn) < published:
                if time.monotonic() > deadline:
                    raise RuntimeError("the latency consumer did not catch up in 120s")
                time.sleep(0.1)
    finally:
        stop.set()
        worker.join(timeout=60)
        source.close()
        heads.close()
        store.close()
    return LatencyRun(sorted(store.latencies_s), store.batches, sent)


def rebuild(database: DatabaseSettings, expected_events: int) -> float:
    """Wall seconds of `procledger ledger rebuild` (a child process) over the ledger."""
    env = {**os.environ, "DATABASE_URL": database.url}
    started = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "procledger", "ledger", "rebuild", "--format", "json"],
        env=env, capture_output=True, text=True, check=False, timeout=1800,
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise RuntimeError(f"rebuild failed ({result.returncode}): {result.stderr[-2000:]}")
    report = json.loads(result.stdout)
    if report["events"] != expected_events or report["differences"]:
        raise RuntimeError(f"rebuild disagrees with the ledger: {result.stdout[:2000]}")
    return elapsed
