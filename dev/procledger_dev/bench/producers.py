"""The publishing side: the product's publisher against a bare kafka-python producer, and
`procledger publish --workers N` against one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from kafka import KafkaProducer

from procledger.adapters.kafka.publisher import CONTENT_TYPE, KafkaOrderPublisher
from procledger.codec.avro import encode
from procledger.codec.textformats import event_to_jsonl
from procledger.domain.events import Event, event_key, event_type
from procledger.scenario import synthetic_events
from procledger.settings import KafkaSettings, Topics
from procledger_dev.bench.topics import delete_topics, fresh_topics


def bare_producer_rate(
    kafka: KafkaSettings, events: Sequence[Event], partitions: int, made: list[Topics]
) -> float:
    """Events/s of a bare KafkaProducer with the publisher's settings, sending records built
    before the clock starts (the same topic, key, value and headers the product sends)."""
    topics = fresh_topics(kafka, "pub", partitions)
    made.append(topics)
    records = [
        (
            topics.for_event_type(event_type(e)),
            event_key(e).encode(),
            encode(e),
            [
                ("event_type", event_type(e).encode()),
                ("source_system", b"bench"),
                ("content_type", CONTENT_TYPE),
            ],
        )
        for e in events
    ]
    # KafkaOrderPublisher's producer settings, so that only the product's own work differs.
    producer = KafkaProducer(
        acks="all",
        enable_idempotence=True,
        linger_ms=10,
        batch_size=256 * 1024,
        max_in_flight_requests_per_connection=5,
        **kafka.client_config(),
    )
    try:
        # The clock includes the first metadata request, as the product's publish() does.
        started = time.perf_counter()
        futures = [producer.send(t, key=k, value=v, headers=h) for t, k, v, h in records]
        producer.flush()
        seconds = time.perf_counter() - started
    finally:
        producer.close()
    if not all(f.succeeded() for f in futures):
        raise RuntimeError("the bare producer's records were not all confirmed")
    return len(records) / seconds


def product_publisher_rate(
    kafka: KafkaSettings, events: Sequence[Event], partitions: int, made: list[Topics]
) -> float:
    """Events/s of KafkaOrderPublisher.publish over the same events, generated beforehand."""
    topics = fresh_topics(kafka, "pub", partitions)
    made.append(topics)
    publisher = KafkaOrderPublisher(kafka, topics, source_system="bench")
    try:
        report = publisher.publish(events)
    finally:
        publisher.close()
    return report.total / report.seconds


def write_jsonl(path: Path, events: Sequence[Event]) -> Path:
    with path.open("w", encoding="utf-8") as out:
        for event in events:
            out.write(event_to_jsonl(event) + "\n")
    return path


def publish_cli_rate(
    kafka: KafkaSettings, path: Path, workers: int, partitions: int, made: list[Topics]
) -> float:
    """Events/s of `procledger publish FILE --workers N`'s pass 2, from its JSON summary
    (pass 1, the validation, is the same for every N and not counted)."""
    topics = fresh_topics(kafka, "pub", partitions)
    made.append(topics)
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "TOPIC_ORDERS": topics.orders,
        "TOPIC_STOCKPILE_TARGETS": topics.stockpile_targets,
        "TOPIC_DLQ": topics.dlq,
        "PUBLISH_METRICS_PORT": "0",
    }
    args = [sys.executable, "-m", "procledger", "publish", str(path), "--output", "json"]
    result = subprocess.run(
        [*args, "--workers", str(workers)],
        env=env,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"procledger publish --workers {workers}: {result.stderr[-2000:]}")
    summary = json.loads(result.stdout)
    return float(summary["events_per_second"])


def measure(
    kafka: KafkaSettings, partitions: int, count: int, runs: int, work_file: Path
) -> dict[str, list[float]]:
    """Events/s of each publishing case, `runs` times in turns (a drift in load hits all
    alike), each on topics of its own that are deleted afterwards."""
    events = list(synthetic_events(count, seed=2))
    made: list[Topics] = []
    path = write_jsonl(work_file, events)
    cases: dict[str, Callable[[], float]] = {
        "publish_bare_producer": lambda: bare_producer_rate(kafka, events, partitions, made),
        "publish_product": lambda: product_publisher_rate(kafka, events, partitions, made),
        "publish_cli_1_workers": lambda: publish_cli_rate(kafka, path, 1, partitions, made),
        "publish_cli_2_workers": lambda: publish_cli_rate(kafka, path, 2, partitions, made),
    }
    results: dict[str, list[float]] = {name: [] for name in cases}
    try:
        for _ in range(runs):
            for name, case in cases.items():
                results[name].append(case())
    finally:
        path.unlink()
        delete_topics(kafka, made)
    return results
