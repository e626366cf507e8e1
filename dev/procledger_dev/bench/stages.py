"""`python -m procledger_dev.bench.stages`: where the consumer's CPU per event goes, by stage.

The consumer's own steps (decode, validation, fold, hash chain, COPY) run in this process
over synthetic records held in memory, batch by batch, against a fresh ledger database on
the configured PostgreSQL, exactly as `LedgerConsumer` calls them; each stage's CPU is this
process's CPU time around it, and PostgreSQL's is the server's CPU (every process of the
server, exited ones included) around the store's calls. Kafka is left out: the fetch costs
what `make bench`'s end-to-end run shows beyond this table's total.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import sys
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg

from procledger.adapters.postgres.migrations import migrate
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.codec.avro import decode, encode
from procledger.domain.events import event_key, event_type
from procledger.domain.ledger import fold
from procledger.domain.validation import validate
from procledger.entrypoints.cli.support import collect_less_often
from procledger.ledger.batch import build_batch, decode_record, state_keys, trim
from procledger.ledger.loop import ConsumerTuning
from procledger.ledger.ports import KafkaRecord, iter_partitions
from procledger.scenario.synthetic import synthetic_events
from procledger.settings import DatabaseSettings, Env
from procledger_dev.bench.product import postmaster_pid, server_cpu_s

PARTITIONS = 6


def records(events: int) -> list[KafkaRecord]:
    """Synthetic events as the consumer polls them: 6 partitions per topic, keyed like the
    publisher's (one order's events in one partition), offsets in order."""
    out: list[KafkaRecord] = []
    offsets: dict[tuple[str, int], int] = {}
    now_ms = int(time.time() * 1000)
    for i, event in enumerate(synthetic_events(events, seed=1)):
        kind = event_type(event)
        topic = "targets" if kind == "StockpileTargetSet" else "orders"
        key = event_key(event).encode()
        tp = (topic, zlib.crc32(key) % PARTITIONS)
        offset = offsets.get(tp, 0)
        offsets[tp] = offset + 1
        headers = (("event_type", kind.encode()), ("source_system", b"bench"))
        out.append(KafkaRecord(*tp, offset, now_ms + i // 50, key, encode(event), headers))
    return out


class Clock:
    """Sums this process's CPU per stage, and the server's per store call."""

    def __init__(self, postmaster: int) -> None:
        self.postmaster = postmaster
        self.cpu: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str, server: str | None = None) -> Iterator[None]:
        pg = server_cpu_s(self.postmaster) if server else 0.0
        started = time.process_time()
        yield
        self.cpu[name] = self.cpu.get(name, 0.0) + time.process_time() - started
        if server:
            self.cpu[server] = self.cpu.get(server, 0.0) + server_cpu_s(self.postmaster) - pg

    def each(self, name: str, action: Callable[[Any], object], items: Sequence[Any]) -> None:
        with self.stage(name):
            for item in items:
                action(item)


def measure(url: str, batches: list[list[KafkaRecord]], clock: Clock) -> None:
    """Every batch through the consumer's steps; parts of decode_record timed apart first."""
    store = PostgresLedgerStore(url)
    gc_started = [0.0]

    def on_gc(phase: str, _info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.process_time()
        else:
            clock.cpu["cyclic GC"] = clock.cpu.get("cyclic GC", 0.0) + (
                time.process_time() - gc_started[0]
            )

    gc.callbacks.append(on_gc)
    try:
        for batch in batches:
            values = [r.value or b"" for r in batch]
            clock.each("  record SHA-256", hashlib.sha256, values)
            decoded = [decode(v) for v in values]
            clock.each("  Avro decode, canonical check, event, payload", decode, values)
            clock.each("  validation", validate, [d.event for d in decoded])
            with clock.stage("decode_record (all of the above)"):
                items = [decode_record(r) for r in batch]
            with store.transaction() as tx:
                with clock.stage("lock and load state", "PostgreSQL: lock and load state"):
                    # As apply_batch() first reads: no event ids (its records are all new).
                    keys = state_keys(items).without_event_ids()
                    positions, state = tx.lock_and_load(set(iter_partitions(batch)), keys)
                    trimmed = trim(items, positions).items
                with clock.stage("  fold (timed apart)"):
                    fold(state, [i.decoded.event for i in trimmed])  # type: ignore[union-attr]
                with clock.stage("build_batch (fold, hash chain, rows)"):
                    write = build_batch(trimmed, state, positions, datetime.now(UTC))
                with clock.stage("write (COPY, upserts, positions)", "PostgreSQL: write"):
                    tx.write(write)
                commit = clock.stage("commit", "PostgreSQL: commit")
                commit.__enter__()
            commit.__exit__(None, None, None)
    finally:
        gc.callbacks.remove(on_gc)
        store.close()


def _statements(admin_url: str, events: int) -> list[dict[str, Any]]:
    """pg_stat_statements' heaviest statements of this database, µs of statement time per
    event (empty when the extension is not preloaded)."""
    try:
        with psycopg.connect(admin_url) as conn:
            rows = conn.execute(
                "SELECT left(regexp_replace(query, '\\s+', ' ', 'g'), 90), calls, "
                "total_exec_time FROM pg_stat_statements s JOIN pg_database d "
                "ON d.oid = s.dbid WHERE d.datname = current_database() "
                "ORDER BY total_exec_time DESC LIMIT 8"
            ).fetchall()
    except psycopg.Error:
        return []
    return [
        {"statement": q, "calls": c, "us_per_event": round(t * 1000 / events, 1)}
        for q, c, t in rows
    ]


def _reset_statements(admin_url: str) -> None:
    try:
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")
            conn.execute("SELECT pg_stat_statements_reset()")
    except psycopg.Error:
        pass  # not preloaded: the table goes without per-statement figures


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m procledger_dev.bench.stages", description=__doc__
    )
    parser.add_argument("--events", type=int, default=100_000, help="default 100,000")
    parser.add_argument("--batch", type=int, default=ConsumerTuning().max_records,
                        help="records per batch (default: the consumer's)")  # fmt: skip
    parser.add_argument("--format", choices=("table", "json"), default="table")
    args = parser.parse_args(argv)
    base = DatabaseSettings.from_env(Env(), admin=True)
    db = f"stages_{uuid.uuid4().hex[:8]}"
    database = DatabaseSettings(
        url=base.url.rsplit("/", 1)[0] + f"/{db}",
        admin_url=base.admin_url.rsplit("/", 1)[0] + f"/{db}",
    )
    migrate(database)
    all_records = records(args.events)
    batches = [all_records[i : i + args.batch] for i in range(0, len(all_records), args.batch)]
    collect_less_often()  # as `procledger consume` does
    clock = Clock(postmaster_pid(database.url))
    _reset_statements(database.admin_url)
    load = os.getloadavg()
    measure(database.url, batches, clock)
    result = {
        "events": args.events, "batch": args.batch, "load_average": [round(x, 2) for x in load],
        "us_per_event": {k: round(v / args.events * 1e6, 1) for k, v in clock.cpu.items()},
        "statements": _statements(database.admin_url, args.events),
    }  # fmt: skip
    with psycopg.connect(base.admin_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as c:
        c.execute(f'DROP DATABASE "{db}" WITH (FORCE)')
    if args.format == "json":
        json.dump(result, sys.stdout, indent=2)
        print()
        return 0
    print(f"{args.events:,} events, batches of {args.batch:,}, load average {load[0]:.2f}")
    print("| Stage | CPU µs/event |\n| --- | ---: |")
    for name, us in result["us_per_event"].items():
        print(f"| {name} | {us} |")
    for s in result["statements"]:
        print(f"| statement: {s['statement']} ({s['calls']} calls) | {s['us_per_event']} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
