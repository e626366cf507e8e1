"""The benchmark's peer: Kafka Connect standalone with Debezium's JDBC sink into PostgreSQL.

The same synthetic events the ledger folds are written, one JSON record each (JsonConverter
with schemas: event id, type, order id, business time and the event's canonical JSON), to a
topic of their own; a standalone Connect worker then sinks them into a fresh database and we
time it from the first row to the last, with the JVM's CPU from /proc. The peer does much less
per record than the ledger (one row, at-least-once, offsets committed apart from the data);
the report says so beside its figures.

`python -m procledger_dev.bench.peer --events 200000 --cases insert:1,upsert:2` runs cases
alone; `make bench` runs them beside the ledger (`--peer-cases`).
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from procledger.codec.jsonform import event_to_json_dict
from procledger.domain.chain import canonical_payload
from procledger.domain.events import Event
from procledger.scenario.synthetic import synthetic_events
from procledger_dev.bench.product import cpu_seconds, peak_rss_mb
from procledger_dev.stack.config import REPO_ROOT, StackConfig
from procledger_dev.stack.procs import require

POM = REPO_ROOT / "deploy" / "connect" / "pom.xml"
TABLE = "peer_events"
# Debezium's JDBC sink writes `batch.size` records per flush (default 500); its documentation
# pairs a larger batch with the consumer's max.poll.records, and PostgreSQL's driver turns a
# JDBC batch into multi-row INSERTs with reWriteBatchedInserts.
BATCH = 5000

_SCHEMA = {
    "type": "struct",
    "name": "procledger.peer.Event",
    "optional": False,
    "fields": [
        {"field": "event_id", "type": "string", "optional": False},
        {"field": "event_type", "type": "string", "optional": False},
        {"field": "order_id", "type": "string", "optional": True},
        {"field": "occurred_at", "type": "string", "optional": False},
        {"field": "payload", "type": "string", "optional": False},
    ],
}


@dataclass(frozen=True, slots=True)
class PeerResult:
    """One Connect run: rows/s and the JVM's CPU between the first and the last row."""

    mode: str
    tasks: int
    rows: int
    seconds: float
    jvm_cpu_s: float
    jvm_peak_rss_mb: float

    @property
    def rate(self) -> float:
        return self.rows / self.seconds

    @property
    def jvm_cpu_us_per_row(self) -> float:
        return self.jvm_cpu_s / self.rows * 1e6


def resolve_jars(cache_dir: Path) -> Path:
    """Connect, Debezium's sink and the driver, resolved once by Maven into the cache."""
    target = cache_dir / "connect-peer"
    if not (target / ".complete").exists():
        mvn = require("mvn", "maven")
        subprocess.run(
            [mvn, "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
             f"-DoutputDirectory={target}"],
            check=True,
        )  # fmt: skip
        (target / ".complete").touch()
    return target


def record_value(event: Event) -> bytes:
    """One event as Connect's JSON with its schema: the columns the sink creates."""
    body = event_to_json_dict(event)
    payload = {
        "event_id": str(body["event_id"]),
        "event_type": type(event).__name__,
        "order_id": body.get("order_id"),
        "occurred_at": str(body["occurred_at"]),
        "payload": canonical_payload(body),
    }
    return json.dumps({"schema": _SCHEMA, "payload": payload}, separators=(",", ":")).encode()


def publish(bootstrap: str, topic: str, events: Iterable[Event], partitions: int = 6) -> int:
    """Create the topic and write every event to it (acks=all), keyed like the ledger's."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, client_id="procledger-bench-peer")
    try:
        admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        admin.close()
    producer = KafkaProducer(
        bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024
    )
    count = 0
    for event in events:
        key = getattr(event, "order_id", None) or getattr(event, "country", "")
        producer.send(topic, key=str(key).encode(), value=record_value(event))
        count += 1
    producer.flush()
    producer.close()
    return count


def _properties(values: dict[str, str]) -> str:
    return "".join(f"{key}={value}\n" for key, value in values.items())


def _configs(
    work: Path, cfg: StackConfig, database: str, topic: str, *, mode: str, tasks: int
) -> tuple[Path, Path]:
    worker = work / "worker.properties"
    worker.write_text(_properties({
        "bootstrap.servers": cfg.bootstrap_servers,
        "key.converter": "org.apache.kafka.connect.storage.StringConverter",
        "value.converter": "org.apache.kafka.connect.json.JsonConverter",
        "value.converter.schemas.enable": "true",
        "offset.storage.file.filename": str(work / "offsets"),
        # Connect 4 refuses an empty plugin.path; the jars are on the classpath instead.
        "plugin.discovery": "service_load",
        "listeners": "http://127.0.0.1:0",
        "consumer.max.poll.records": str(BATCH),
        "consumer.auto.offset.reset": "earliest",
    }))  # fmt: skip
    connector = work / "connector.properties"
    upsert = mode == "upsert"
    connector.write_text(_properties({
        "name": f"peer-{uuid.uuid4().hex[:8]}",
        "connector.class": "io.debezium.connector.jdbc.JdbcSinkConnector",
        "tasks.max": str(tasks),
        "topics": topic,
        "connection.url": f"jdbc:postgresql://127.0.0.1:{cfg.pg_port}/{database}"
        "?reWriteBatchedInserts=true",
        "connection.username": "postgres",
        "connection.password": cfg.pg_superuser_password,
        "insert.mode": mode,
        "primary.key.mode": "record_value" if upsert else "none",
        **({"primary.key.fields": "event_id"} if upsert else {}),
        "schema.evolution": "basic",
        "collection.name.format": TABLE,
        "batch.size": str(BATCH),
    }))  # fmt: skip
    return worker, connector


def _rows(url: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        exists = conn.execute("SELECT to_regclass(%s)", (TABLE,)).fetchone()
        if not exists or exists[0] is None:
            return 0
        row = conn.execute(f"SELECT count(*) FROM {TABLE}").fetchone()
        return int(row[0]) if row else 0


def sink(
    cfg: StackConfig, topic: str, rows: int, *, mode: str, tasks: int, timeout_s: float = 1800
) -> PeerResult:
    """Run Connect into a fresh database until `rows` rows are there; time first to last row."""
    java = require("java", "openjdk-17-jre-headless")
    jars = resolve_jars(cfg.cache_dir)
    database = f"peer_{uuid.uuid4().hex[:10]}"
    server = cfg.database_url
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    url = server.rsplit("/", 1)[0] + "/" + database
    work = Path(tempfile.mkdtemp(prefix="procledger-peer-"))
    worker, connector = _configs(work, cfg, database, topic, mode=mode, tasks=tasks)
    log = (work / "connect.log").open("wb")
    proc = subprocess.Popen(
        [java, "-Xmx1g", "-cp", f"{jars}/*", "org.apache.kafka.connect.cli.ConnectStandalone",
         str(worker), str(connector)],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    started = time.monotonic()
    try:
        deadline = started + timeout_s
        first = done = cpu_at_first = 0.0
        count = 0
        while count < rows:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = (work / "connect.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"Connect stopped or timed out at {count}/{rows} rows:\n{tail}")
            count = _rows(url)
            now = time.monotonic()
            if count and not first:
                # The JVM's start (class loading, JIT) is not per-row work: count from here.
                first, cpu_at_first = now, cpu_seconds(proc.pid)
            done = now
            time.sleep(0.2)
        return PeerResult(
            mode=mode,
            tasks=tasks,
            rows=count,
            # All rows in one look (a smoke run's single batch): count the worker's start too,
            # rather than divide by a near-zero span.
            seconds=done - first if done > first else done - started,
            jvm_cpu_s=cpu_seconds(proc.pid) - (cpu_at_first if done > first else 0.0),
            jvm_peak_rss_mb=peak_rss_mb(proc.pid),
        )
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        shutil.rmtree(work, ignore_errors=True)


def run_cases(
    cfg: StackConfig, events: Iterable[Event], cases: Sequence[tuple[str, int]]
) -> list[PeerResult]:
    """Publish the events once, then sink them once per (mode, tasks) case."""
    topic = f"bench.peer.{uuid.uuid4().hex[:8]}"
    count = publish(cfg.bootstrap_servers, topic, events)
    try:
        return [sink(cfg, topic, count, mode=mode, tasks=tasks) for mode, tasks in cases]
    finally:
        admin = KafkaAdminClient(bootstrap_servers=cfg.bootstrap_servers)
        try:
            admin.delete_topics([topic])
        finally:
            admin.close()


def parse_cases(text: str) -> list[tuple[str, int]]:
    """'insert:1,upsert:2' -> [('insert', 1), ('upsert', 2)], or a ValueError naming the case."""
    cases = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        mode, _, tasks = item.partition(":")
        if mode not in {"insert", "upsert"} or not tasks.isdigit() or int(tasks) < 1:
            raise ValueError(f"peer case {item!r}: expected insert:N or upsert:N with N >= 1")
        cases.append((mode, int(tasks)))
    return cases


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m procledger_dev.bench.peer", description=__doc__
    )
    parser.add_argument("--events", type=int, default=200_000, help="events (default 200,000)")
    parser.add_argument(
        "--cases", default="insert:1", help="insert.mode:tasks.max, comma-separated (insert:1)"
    )
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    try:
        cases = parse_cases(args.cases)
    except ValueError as err:
        parser.error(str(err))
    events = synthetic_events(args.events, seed=args.seed)
    for result in run_cases(StackConfig.from_env(), events, cases):
        summary = {
            **asdict(result),
            "rows_per_s": round(result.rate),
            "jvm_cpu_us_per_row": round(result.jvm_cpu_us_per_row, 1),
        }
        print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
