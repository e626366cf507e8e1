"""`procledger publish` and `procledger scenario`: options only (the work is in *_app.py)."""

from __future__ import annotations

import argparse

from procledger.entrypoints.cli.support import Command

EXIT_CODES = (
    "Exit codes: 0 done, 1 the broker failed (the message says how many events were "
    "confirmed), 2 bad usage or configuration, 3 invalid input (nothing was published); "
    "with --wait also 4 the ledger rejected an event, 5 not all were folded in time."
)


PUBLISH = Command(
    "publish",
    "validate a JSON Lines or CSV file of order events, then publish all of it",
    "Reads FILE twice with bounded memory: pass 1 validates every line and reports each "
    "problem to stderr as 'line N: field: reason'; only if every line is valid does "
    "pass 2 publish the events to TOPIC_ORDERS / TOPIC_STOCKPILE_TARGETS (idempotent "
    "producer, acks=all; each partition's batch lingers PUBLISH_LINGER_MS, default 50, "
    'to fill). JSON Lines hold one event per line with "type" naming the '
    "event type; CSV holds OrderPlaced events under a header row of field names. " + EXIT_CODES,
    "procledger.entrypoints.cli.publish_handlers:run",
)

EVENTS = Command(
    "events",
    "what became of sent events",
    "What became of sent events.",
)

STATUS = Command(
    "status",
    "applied (with ledger coordinates), rejected (with reason) or unknown, per event",
    "Looks each EVENT_ID up in the ledger over a read-only connection "
    "(STATUS_DATABASE_URL, default AUDIT_DATABASE_URL): applied, with the topic, "
    "partition and offset it was folded from; rejected, with the reason code and "
    "message; or unknown (not folded yet, or never seen). Exit codes: 0 all applied, "
    "1 the ledger could not be read, 2 bad usage, 4 at least one rejected, 5 none "
    "rejected but some unknown.",
    "procledger.entrypoints.cli.events_handlers:run",
)

SCENARIO = Command(
    "scenario",
    "write the demo story or a synthetic stream as JSON Lines, or publish it",
    "Without --events: the June 2023 155mm story. With --events N: a synthetic stream "
    "of N valid events (streamed, never held in memory), the same for the same --seed. "
    "Writes JSON Lines to stdout or --out (summary on stderr), or with --publish sends "
    "the events to Kafka (summary on stdout). " + EXIT_CODES,
    "procledger.entrypoints.cli.scenario_handlers:run",
)


def _output_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--output",
        choices=("table", "json"),
        default="table",
        help="summary format: counts per event type, total, events/s (default table)",
    )
    parser.add_argument(
        "--progress",
        action="store_true",
        help="show the progress bar even when stderr is not a terminal",
    )
    parser.add_argument(
        "--source-system",
        metavar="NAME",
        help="source_system header of every record (publish: env PUBLISH_SOURCE_SYSTEM, "
        "default procledger-cli; scenario: default scenario)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    publish = PUBLISH.add_to(sub)
    publish.add_argument("file", metavar="FILE", help="input file, or - for standard input")
    publish.add_argument(
        "--format",
        choices=("jsonl", "csv"),
        help="input format (default: csv for *.csv, jsonl otherwise)",
    )
    publish.add_argument(
        "--dry-run", action="store_true", help="validate only; publish nothing (exit 0 or 3)"
    )
    publish.add_argument(
        "--workers",
        type=int,
        metavar="N",
        help="publish with N processes, each its own producer; events are split by key "
        "(order_id, or country and calibre), so each key keeps its order "
        "(env PUBLISH_WORKERS, default 1; at most 32)",
    )
    publish.add_argument(
        "--metrics-port",
        type=int,
        metavar="N",
        help="serve Prometheus metrics on 127.0.0.1:N during the run "
        "(env PUBLISH_METRICS_PORT, default 0 = off)",
    )
    publish.add_argument(
        "--metrics-linger",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="keep serving metrics this long after the run, for a last scrape (default 0)",
    )
    publish.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="after publishing, wait up to SECONDS for the ledger to fold the events and "
        "report each one not applied (reads STATUS_DATABASE_URL); exit 4 if any was "
        "rejected, 5 if some were not folded in time",
    )
    _output_options(publish)

    events = EVENTS.add_to(sub)
    events_sub = events.add_subparsers(dest="events_command", metavar="COMMAND", required=True)
    status = STATUS.add_to(events_sub)
    status.add_argument("event_ids", nargs="+", metavar="EVENT_ID", help="lowercase UUID")
    status.add_argument(
        "--format", choices=("table", "json", "csv"), default="table", help="default table"
    )

    scenario = SCENARIO.add_to(sub)
    scenario.add_argument("--events", type=int, metavar="N", help="synthetic stream of N events")
    scenario.add_argument(
        "--orders", type=int, metavar="M", help="orders placed in it (default about N/8)"
    )
    scenario.add_argument("--seed", type=int, metavar="S", help="generator seed (default 1)")
    scenario.add_argument(
        "--placed-only", action="store_true", help="only independent OrderPlaced events"
    )
    target = scenario.add_mutually_exclusive_group()
    target.add_argument("--out", metavar="FILE", help="write JSON Lines here instead of stdout")
    target.add_argument(
        "--publish", action="store_true", help="publish to Kafka instead of writing JSON Lines"
    )
    _output_options(scenario)
