"""`python -m procledger_dev.bench.pace`: publish synthetic events at a steady rate (latency)."""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Iterable, Iterator, Sequence

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.domain.events import Event
from procledger.scenario.synthetic import synthetic_events
from procledger.settings import Env, KafkaSettings, Topics


def paced(events: Iterable[Event], rate: float) -> Iterator[Event]:
    """Yield event i no earlier than i / rate seconds after the first: a steady rate without
    drift (a late event is sent at once, never followed by a burst to catch up beyond it)."""
    started = time.monotonic()
    for i, event in enumerate(events):
        delay = started + i / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        yield event


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m procledger_dev.bench.pace")
    parser.add_argument("--rate", type=float, required=True, help="events per second")
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--seed", type=int, default=2)
    args = parser.parse_args(argv)
    env = Env()
    publisher = KafkaOrderPublisher(KafkaSettings.from_env(env), Topics.from_env(env), "bench")
    try:
        count = round(args.rate * args.seconds)
        report = publisher.publish(paced(synthetic_events(count, seed=args.seed), args.rate))
    finally:
        publisher.close()
    print(json.dumps({"events": report.total, "seconds": round(report.seconds, 3)}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
