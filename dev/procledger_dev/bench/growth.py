"""`python -m procledger_dev.bench.growth`: what the ledger costs as it grows (issue 14).

One ledger grows chunk by chunk: each chunk of synthetic events (its own seed, so its own
orders) is published, then `procledger consume` processes fold it into the same ledger, so
every chunk's events/s is the consumers' alone at that size. On the full ledger it times the
audit queries in this process (the functions the CLI calls, so the CLI's start is left out
and reported once): live totals, one order, one trace, and time travel at a point half way
through the journal (the worst case) and near its end; then `procledger ledger rebuild`
and `procledger audit verify` as child processes, with their wall time and peak RSS.
Timings are reported, never asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.adapters.postgres import audit_reader
from procledger.adapters.postgres.migrations import migrate
from procledger.audit import history, queries
from procledger.audit.filters import Clocks, OrderFilter
from procledger.scenario.synthetic import synthetic_events
from procledger.settings import DatabaseSettings, Env, KafkaSettings
from procledger_dev.bench import product
from procledger_dev.bench.stats import percentile
from procledger_dev.bench.topics import delete_topics, fresh_topics


def _log(message: str) -> None:
    print(f"[growth {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m procledger_dev.bench.growth", description=__doc__
    )
    parser.add_argument("--events", type=int, default=10_000_000, help="default 10,000,000")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="events per chunk (1e6)")
    parser.add_argument("--consumers", type=int, default=2, help="consumer processes (2)")
    parser.add_argument("--samples", type=int, default=25,
                        help="runs of each audit query, for p50 and p99 (default 25)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=Path("bench-results/growth.json"))
    parser.add_argument("--markdown", type=Path, default=None, help="also write the table here")
    parser.add_argument("--keep", action="store_true", help="keep the topics and the database")
    return parser


def _timed(samples: int, call: Callable[[int], object]) -> dict[str, float]:
    """Seconds of `call(i)` over `samples` runs: p50, p99 (nearest rank) and max."""
    seconds = []
    for i in range(samples):
        started = time.perf_counter()
        call(i)
        seconds.append(time.perf_counter() - started)
    seconds.sort()
    return {
        "p50_s": round(percentile(seconds, 50), 4),
        "p99_s": round(percentile(seconds, 99), 4),
        "max_s": round(seconds[-1], 4),
        "runs": samples,
    }


def _run_child(argv: Sequence[str], env: dict[str, str]) -> dict[str, Any]:
    """Wall seconds, exit code and peak RSS of a command. RUSAGE_CHILDREN's maximum covers
    every child a process ever reaped, so the command runs under a fresh intermediate
    process whose only child it is."""
    code = (
        "import json, resource, subprocess, sys, time\n"
        "t = time.perf_counter()\n"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "print(json.dumps({'seconds': round(time.perf_counter() - t, 2), 'exit': p.returncode,"
        " 'peak_rss_mb': round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1),"
        " 'stdout': p.stdout, 'stderr': p.stderr[-2000:]}))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, check=True
    )
    result: dict[str, Any] = json.loads(done.stdout)
    try:  # the command's JSON report, kept whole; its raw text only if it is not JSON
        result["report"] = json.loads(result.pop("stdout"))
    except json.JSONDecodeError as err:
        result["stdout"] = err.doc[-4000:]
    return result


def _chunks(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def grow(args: argparse.Namespace) -> dict[str, Any]:
    env = Env()
    kafka = KafkaSettings.from_env(env)
    base = DatabaseSettings.from_env(env, admin=True)
    run = uuid.uuid4().hex[:8]
    topics = fresh_topics(kafka, "growth", 6)
    log_dir = args.out.parent / f"logs-growth-{run}"
    log_dir.mkdir(parents=True, exist_ok=True)
    bench = product.BenchEnv(run, kafka, topics, base, log_dir)
    database = bench.database("growth")
    migrate(database)
    results: dict[str, Any] = {
        "date": datetime.now().astimezone().isoformat(timespec="seconds"),
        "git": subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip(),
        "events": args.events, "chunk": args.chunk, "consumers": args.consumers,
        "load_average_start": os.getloadavg(), "chunks": [],
    }  # fmt: skip
    try:
        total = 0
        for i, size in enumerate(_chunks(args.events, args.chunk)):
            publisher = KafkaOrderPublisher(kafka, topics, source_system="bench")
            try:
                total += publisher.publish(synthetic_events(size, seed=1000 + i)).total
            finally:
                publisher.close()
            done = product.consume(bench, database, args.consumers, total, 3600)
            # A checkpoint per chunk, as an operator's periodic `ledger checkpoint` would
            # write them; nothing is in flight, so it seals the present.
            built = _run_child(
                [sys.executable, "-m", "procledger", "ledger", "checkpoint", "--lag", "0",
                 "--format", "json"], _child_env(database),
            )  # fmt: skip
            if built["exit"] != 0:
                raise RuntimeError(f"ledger checkpoint exited {built['exit']}: {built}")
            chunk = {
                "ledger_events": total,
                "events": size,
                "events_per_s": round(size / done.seconds, 1),
                "consumer_cpu_us_per_event": round(sum(done.cpu_s) / size * 1e6, 1),
                "postgres_cpu_us_per_event": round(done.postgres_cpu_s / size * 1e6, 1),
                "peak_rss_mb": max(done.peak_rss_mb),
                "load_average": os.getloadavg()[0],
                "checkpoint_s": built["seconds"],
                "checkpoint_orders": sum(c["orders"] for c in built["report"]),
            }
            results["chunks"].append(chunk)
            _log(f"chunk {i + 1}: ledger {total:,} events, {chunk['events_per_s']:,} events/s")
        first, last = results["chunks"][0], results["chunks"][-1]
        results["last_over_first"] = round(last["events_per_s"] / first["events_per_s"], 3)
        results["audit"] = _audit(database, args.samples, args.chunk)
        child_env = _child_env(database)
        _log("ledger rebuild")
        results["rebuild"] = _run_child(
            [sys.executable, "-m", "procledger", "ledger", "rebuild", "--format", "json"], child_env
        )
        _log("audit verify")
        results["verify"] = _run_child(
            [sys.executable, "-m", "procledger", "audit", "verify", "--format", "json"], child_env
        )
        for name in ("rebuild", "verify"):
            if results[name]["exit"] != 0:
                raise RuntimeError(f"{name} exited {results[name]['exit']}: {results[name]}")
    finally:
        results["load_average_end"] = os.getloadavg()
        if not args.keep:
            with psycopg.connect(base.admin_url.rsplit("/", 1)[0] + "/postgres",
                                 autocommit=True) as conn:  # fmt: skip
                conn.execute(f'DROP DATABASE IF EXISTS "bench_{run}_growth" WITH (FORCE)')
            delete_topics(kafka, [topics])
    return results


def _child_env(database: DatabaseSettings) -> dict[str, str]:
    return {**os.environ, "DATABASE_URL": database.url,
            "AUDIT_DATABASE_URL": product.auditor_url(database.url)}  # fmt: skip


def _audit(database: DatabaseSettings, samples: int, chunk: int) -> dict[str, Any]:
    """p50 and p99 of the audit queries on the grown ledger, in this process: each run opens
    its own read-only snapshot as an audit command does (connection time included). The
    time-travel totals run twice: from the checkpoints, then with them dropped (each from
    the live projection or a fold of what the clock sees, the smaller side)."""
    url = product.auditor_url(database.url)
    rng = random.Random(7)
    with audit_reader.connect(url) as conn:
        journal = int(conn.execute("SELECT max(id) FROM audit.journal").fetchone()[0])  # type: ignore[index]

        def row_at(fraction: float) -> tuple[str, str, datetime]:
            row = conn.execute(
                "SELECT order_id, event_id, recorded_at FROM audit.journal WHERE id >= %s"
                " ORDER BY id LIMIT 1",
                [max(1, int(journal * fraction))],
            ).fetchone()
            assert row is not None
            return row[0], row[1], row[2]

        picks = [row_at(rng.random()) for _ in range(samples)]
        half, late = row_at(0.5)[2], row_at(0.99)[2]
        # The worst clock for checkpoints: half way between the two nearest the middle.
        middle = (journal // 2 // chunk + 0.5) * chunk / journal
        mid_chunk = row_at(min(middle, 0.99))[2]

    def timed(
        runs: int, query: Callable[[audit_reader.Connection, int], object]
    ) -> dict[str, float]:
        def once(i: int) -> None:
            with audit_reader.connect(url) as conn:
                query(conn, i)

        return _timed(runs, once)

    every = OrderFilter()
    _log(f"audit queries on {journal:,} journal rows, {samples} runs each")
    timings = {
        "totals": timed(samples, lambda c, i: queries.totals(c, (), every, Clocks())),
        "totals_by_buyer": timed(
            samples, lambda c, i: queries.totals(c, ("buyer",), every, Clocks())
        ),
        "order": timed(samples, lambda c, i: history.order_detail(c, picks[i][0], Clocks())),
        "trace": timed(samples, lambda c, i: history.trace(c, picks[i][1])),
        "order_known_at_half": timed(
            samples, lambda c, i: history.order_detail(c, picks[i][0], Clocks(known_at=half))
        ),
    }
    clocks = {"99pct": late, "half": half, "mid_chunk": mid_chunk}

    def time_travel(suffix: str, runs: int) -> None:
        for name, at in clocks.items():
            travel = Clocks(known_at=at)

            def query(c: audit_reader.Connection, i: int, travel: Clocks = travel) -> object:
                return queries.totals(c, (), every, travel)

            timings[f"totals_known_at_{name}{suffix}"] = timed(runs, query)

    time_travel("", min(samples, 5))
    with psycopg.connect(database.admin_url, autocommit=True) as conn:
        conn.execute("DELETE FROM ledger.checkpoint_orders")
        conn.execute("DELETE FROM ledger.checkpoints")
    time_travel("_no_checkpoints", min(samples, 3))  # each folds up to half the journal
    return {"journal_rows": journal, "queries": timings}


def markdown(results: dict[str, Any]) -> str:
    """Each chunk's throughput, the audit queries' p50/p99, rebuild and verify."""
    lines = [
        "# Benchmark: the ledger as it grows",
        "",
        f"{results['date']}, commit {results.get('git') or 'unknown'}, "
        f"{results['events']:,} events in chunks of {results['chunk']:,}, "
        f"{results['consumers']} consumer processes. Load average at start "
        f"{', '.join(f'{x:.2f}' for x in results['load_average_start'])}, at end "
        f"{', '.join(f'{x:.2f}' for x in results['load_average_end'])}. Generated by "
        "`python -m procledger_dev.bench.growth`; see docs/benchmarks/README.md.",
        "",
        "| Ledger size (events) | Chunk events/s | Consumer CPU us/event | PostgreSQL CPU "
        "us/event | Peak RSS MiB | Load (1 min) | Checkpoint s (orders) |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c in results["chunks"]:
        lines.append(
            f"| {c['ledger_events']:,} | {c['events_per_s']:,.0f} | "
            f"{c['consumer_cpu_us_per_event']:.1f} | {c['postgres_cpu_us_per_event']:.1f} | "
            f"{c['peak_rss_mb']:.0f} | {c['load_average']:.2f} | "
            f"{c['checkpoint_s']:.1f} ({c['checkpoint_orders']:,}) |"
        )
    if "last_over_first" in results:
        lines += ["", f"Last chunk over first: {results['last_over_first']:.3f}."]
    audit = results.get("audit")
    if audit:
        lines += [
            "",
            f"Audit queries on {audit['journal_rows']:,} journal rows (in process):",
            "",
            "| Query | p50 s | p99 s | max s | Runs |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for name, t in audit["queries"].items():
            lines.append(
                f"| {name} | {t['p50_s']:.3f} | {t['p99_s']:.3f} | {t['max_s']:.3f} | {t['runs']} |"
            )
    for name in ("rebuild", "verify"):
        if name in results:
            r = results[name]
            lines.append(
                f"\n`{name}`: {r['seconds']:.1f} s, peak RSS {r['peak_rss_mb']:.0f} MiB, "
                f"exit {r['exit']}."
            )
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.events < 1 or args.chunk < 1 or args.consumers < 1 or args.samples < 1:
        print("--events, --chunk, --consumers and --samples must be >= 1", file=sys.stderr)
        return 2
    results = grow(args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    text = markdown(results)
    if args.markdown is not None:
        args.markdown.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
