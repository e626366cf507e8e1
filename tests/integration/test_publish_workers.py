"""`procledger publish --workers N` against the real broker: every event once, keys in order."""

from __future__ import annotations

import json
import socket
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
from kafka.partitioner.default import murmur2

from procledger.codec.textformats import event_to_jsonl
from procledger.domain.events import Event, event_key
from procledger.publishing.inputs import InputChanged
from procledger.publishing.workers import (
    NO_WORKER,
    Producer,
    ShardedFile,
    WorkerLost,
    publish_file,
    worker_of,
)
from procledger.scenario import synthetic_events, synthetic_placed
from tests.integration.publishing_support import TopicSet, orders_csv, unique_topics
from tests.plugins.ledger import run_procledger


class _Seen:
    """A Confirmations that remembers what it was told."""

    def __init__(self) -> None:
        self.confirmed_total = 0
        self.failed_total = 0

    def confirmed(self, kinds: Mapping[str, int], window_s: float) -> None:
        assert window_s >= 0
        self.confirmed_total += sum(kinds.values())

    def failed(self, kinds: Mapping[str, int]) -> None:
        self.failed_total += sum(kinds.values())


@pytest.fixture
def topics(bootstrap: str, unique: str) -> TopicSet:
    return unique_topics(bootstrap, unique)


def _by_key(events: list[Event]) -> dict[str, list[str]]:
    keys: dict[str, list[str]] = defaultdict(list)
    for event in events:
        keys[event_key(event)].append(event.event_id)
    return keys


def test_workers_publish_every_event_once_and_each_key_in_order(
    topics: TopicSet, tmp_path: Path
) -> None:
    events = list(synthetic_events(3000, seed=5))
    path = tmp_path / "events.jsonl"
    # Blank lines have no worker; they must neither stop nor shift the split.
    lines = [event_to_jsonl(e) + ("\n\n" if i % 500 == 0 else "\n") for i, e in enumerate(events)]
    path.write_text("".join(lines), encoding="utf-8")
    result = run_procledger(topics.env, "publish", str(path), "--workers", "3", "--output", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["published"] == len(events)
    records = topics.read_all()
    assert sorted(r.event.event_id for r in records) == sorted(e.event_id for e in events)
    assert {r.headers["source_system"] for r in records} == {b"procledger-cli"}
    # Within a partition the broker keeps send order; every key lives in one partition.
    on_topic = sorted(records, key=lambda r: (r.topic, r.partition, r.offset))
    assert _by_key([r.event for r in on_topic]) == _by_key(events)
    # Where Java's producer (and the Go example) would put each key: murmur2, made
    # positive, modulo the partitions (tests/unit/test_partitioning.py ties murmur2 to Java).
    for r in records:
        hashed = murmur2(event_key(r.event).encode()) & 0x7FFFFFFF
        assert r.partition == hashed % topics.topics.partitions, r
    assert len({worker_of(e, 3) for e in events}) == 3  # all three workers had work


def test_workers_from_the_environment_publish_csv(topics: TopicSet, tmp_path: Path) -> None:
    events = list(synthetic_placed(200, seed=11))
    path = orders_csv(tmp_path / "orders.csv", events)
    env = {**topics.env, "PUBLISH_WORKERS": "2", "PUBLISH_LINGER_MS": "0"}
    result = run_procledger(env, "publish", str(path))
    assert result.returncode == 0, result.stderr
    assert "200 events published" in result.stdout
    assert sorted(r.event.event_id for r in topics.read_all()) == sorted(e.event_id for e in events)


def test_bad_worker_counts_and_lingers_are_usage_errors(topics: TopicSet, tmp_path: Path) -> None:
    path = tmp_path / "one.jsonl"
    path.write_text(event_to_jsonl(next(iter(synthetic_placed(1)))) + "\n", encoding="utf-8")
    result = run_procledger(topics.env, "publish", str(path), "--workers", "0")
    assert result.returncode == 2
    assert "--workers must be between 1 and 32, got 0" in result.stderr
    result = run_procledger({**topics.env, "PUBLISH_WORKERS": "many"}, "publish", str(path))
    assert result.returncode == 2
    assert "PUBLISH_WORKERS must be an integer, got 'many'" in result.stderr
    result = run_procledger({**topics.env, "PUBLISH_LINGER_MS": "2000"}, "publish", str(path))
    assert result.returncode == 2
    assert "PUBLISH_LINGER_MS must be between 0 and 1000, got 2000" in result.stderr
    assert topics.total() == 0


def test_workers_that_cannot_reach_kafka_fail_the_run(topics: TopicSet, tmp_path: Path) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    events = list(synthetic_placed(10, seed=3))
    path = tmp_path / "ten.jsonl"
    path.write_text("".join(event_to_jsonl(e) + "\n" for e in events), encoding="utf-8")
    env = {**topics.env, "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{port}"}
    result = run_procledger(env, "publish", str(path), "--workers", "2")
    assert result.returncode == 1, result.stderr
    assert f"cannot reach Kafka at 127.0.0.1:{port}" in result.stderr
    assert "At least 0 of 10 events were confirmed" in result.stderr


def _sharded(path: Path, events: Sequence[Event], workers: int, shift: int = 0) -> ShardedFile:
    path.write_text("".join(event_to_jsonl(e) + "\n" for e in events), encoding="utf-8")
    lines = bytes([NO_WORKER]) + bytes((worker_of(e, workers) + shift) % workers for e in events)
    return ShardedFile(path, "jsonl", lines, workers)


def test_a_line_that_is_not_what_pass_1_read_stops_the_run(
    topics: TopicSet, tmp_path: Path
) -> None:
    events = list(synthetic_placed(50, seed=4))
    # Every line handed to the wrong worker: as if the file changed between the passes.
    file = _sharded(tmp_path / "changed.jsonl", events, 2, shift=1)
    producer = Producer(topics.kafka, topics.topics, "test", 10)
    with pytest.raises(InputChanged, match="not the event pass 1 read there"):
        publish_file(file, producer, _Seen())


def test_a_worker_that_dies_is_reported_with_what_was_confirmed(
    topics: TopicSet, tmp_path: Path
) -> None:
    events = list(synthetic_placed(50, seed=6))
    file = _sharded(tmp_path / "gone.jsonl", events, 2)
    file.path.unlink()  # each worker fails to open it: an exception no worker expects
    seen = _Seen()
    with pytest.raises(WorkerLost, match="ended with exit code 1") as raised:
        publish_file(file, Producer(topics.kafka, topics.topics, "test", 10), seen)
    assert raised.value.confirmed == seen.confirmed_total == 0
    assert topics.total() == 0
