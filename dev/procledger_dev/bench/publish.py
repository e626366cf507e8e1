"""Publish-throughput benchmark: synthetic OrderPlaced events through KafkaOrderPublisher."""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from collections.abc import Sequence

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.adapters.kafka.topics import ensure_topics
from procledger.codec.avro import encode
from procledger.scenario import synthetic_placed
from procledger.settings import Env, KafkaSettings, SettingsError, Topics
from procledger_dev.bench.topics import delete_topics


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m procledger_dev.bench.publish",
        description=(
            "Publish N synthetic OrderPlaced events to a fresh, uniquely named topic set "
            "(KAFKA_BOOTSTRAP_SERVERS, TOPIC_PARTITIONS) and print the throughput as JSON. "
            "The topics are deleted afterwards unless --keep is given."
        ),
    )
    parser.add_argument("--events", type=int, default=1_000_000, help="events (default 1e6)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark topics")
    return parser


def _baseline(events: int, seed: int) -> float:
    """Events/s of generating and encoding alone: the ceiling the producer cannot beat."""
    sample = max(1, min(events, 100_000))
    started = time.monotonic()
    for event in synthetic_placed(sample, seed=seed):
        encode(event)
    return sample / (time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.events < 1:
        print("--events must be at least 1", file=sys.stderr)
        return 2
    try:
        env = Env()
        kafka = KafkaSettings.from_env(env)
        base = Topics.from_env(env)
    except SettingsError as err:
        print(f"bench_publish: {err}", file=sys.stderr)
        return 2
    run = uuid.uuid4().hex[:10]
    topics = Topics(
        orders=f"bench.{run}.orders",
        stockpile_targets=f"bench.{run}.targets",
        dlq=f"bench.{run}.dlq",
        partitions=base.partitions,
        replication_factor=base.replication_factor,
    )
    ensure_topics(kafka, topics)
    encode_rate = _baseline(args.events, args.seed)
    publisher = KafkaOrderPublisher(kafka, topics, source_system="bench")
    try:
        report = publisher.publish(synthetic_placed(args.events, seed=args.seed))
    finally:
        publisher.close()
        if not args.keep:
            delete_topics(kafka, [topics])
    result = {
        "events": report.total,
        "seconds": round(report.seconds, 3),
        "events_per_second": round(report.total / report.seconds, 1),
        "generate_and_encode_events_per_second": round(encode_rate, 1),
        "partitions": topics.partitions,
        "topic": topics.orders,
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
