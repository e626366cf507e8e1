"""`python -m procledger_dev.bench.replica`: consumers' throughput with and without an audit load.

Publishes synthetic events once, then folds them into a fresh ledger per run with the same
number of `procledger consume` processes, while `procledger audit totals` and `audit verify`
run in a loop: on the stack's streaming replica (AUDIT_READ_DATABASE_URL), on the primary,
or not at all. It reports each run's events/s, every audit command's wall time and exit
code, the replica's replay lag sampled each second, and the load average; then the audit
commands once more on the finished ledger with the consumers idle. Timings are reported,
never asserted. Needs the stack's replica: `STACK_PG_REPLICA=1 procledger-dev stack up`.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

from procledger.adapters.postgres.standby import read_position
from procledger.settings import DatabaseSettings
from procledger_dev.bench import product
from procledger_dev.bench.runner import _drop_databases, _log, _Run
from procledger_dev.bench.stats import percentile
from procledger_dev.stack.config import StackConfig
from procledger_dev.stack.replica import wait_replayed

MODES = ("none", "replica", "primary")
TOTALS = ("totals", "--by", "buyer,caliber_mm,month", "--format", "json")
VERIFY = ("verify", "--format", "json")


@dataclass
class AuditLoad:
    """`audit totals` then `audit verify`, again and again, until stopped."""

    env: dict[str, str]
    timings: dict[str, list[float]] = field(default_factory=lambda: {"totals": [], "verify": []})
    failures: list[str] = field(default_factory=list)
    verify_lag_s: list[float] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def once(self, args: Sequence[str]) -> None:
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "procledger", "audit", *args],
            env=self.env, capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
        self.timings[args[0]].append(time.perf_counter() - started)
        if done.returncode != 0:
            self.failures.append(f"audit {args[0]} exited {done.returncode}: {done.stderr[-500:]}")
        elif args[0] == "verify":
            database = json.loads(done.stdout)["database"]
            self.verify_lag_s.append(float(database["replay_lag_s"]))

    def loop(self) -> None:
        while not self.stop.is_set():
            self.once(TOTALS)
            if not self.stop.is_set():
                self.once(VERIFY)


class Sampler:
    """The replica's replay lag and the load average, once a second, in a thread."""

    def __init__(self, replica_url: str) -> None:
        self.lag_s: list[float] = []
        self.load: list[float] = []
        self._url = replica_url
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join(10)

    def _run(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self._stop.wait(1.0):
                self.lag_s.append(read_position(conn).replay_lag_s)
                self.load.append(os.getloadavg()[0])


def _summary(values: list[float], digits: int = 2) -> dict[str, Any]:
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    return {
        "n": len(values),
        "p50": round(percentile(ordered, 50.0), digits),
        "max": round(ordered[-1], digits),
        "min": round(ordered[0], digits),
    }


def _audit_env(
    bench: _Run, database: DatabaseSettings, cfg: StackConfig, mode: str
) -> dict[str, str]:
    primary = product.auditor_url(database.url)
    replica = product.auditor_url(database.url, cfg.pg_replica_port)
    env = bench.bench.process_env(database, bench.topics, "unused")
    env["AUDIT_DATABASE_URL"] = primary
    env["AUDIT_READ_DATABASE_URL"] = replica if mode == "replica" else primary
    return env


def measure(bench: _Run, cfg: StackConfig, mode: str, processes: int, run: int) -> dict[str, Any]:
    """One fresh ledger folded by `processes` consumers under the audit load of `mode`."""
    database = bench.fresh_database(f"{mode}{run}")
    wait_replayed(cfg, 600)  # the new, empty database exists on the replica too
    load = AuditLoad(_audit_env(bench, database, cfg, mode))
    _log(f"{mode} audit load, run {run}: {processes} consumer(s), {bench.total} records")
    loader = threading.Thread(target=load.loop, name="audit-load", daemon=True)
    with Sampler(cfg.replica_url) as sampler:
        if mode != "none":
            loader.start()
        result = product.consume(bench.bench, database, processes, bench.total, 3600)
        load.stop.set()
        if mode != "none":
            loader.join()
        catch_up = wait_replayed(cfg, 600)
    if result.journal_rows + result.rejections != bench.total:
        raise RuntimeError(f"offsets unaccounted for: {result}")
    idle = AuditLoad(load.env)
    if mode != "none":  # the same commands on the finished ledger, nothing writing
        for _ in range(bench.repeats):
            idle.once(TOTALS)
            idle.once(VERIFY)
    return {
        "mode": mode, "run": run, "processes": processes, "records": bench.total,
        "seconds": round(result.seconds, 2), "events_per_s": round(result.rate, 1),
        "steady_events_per_s": round(result.steady_rate, 1),
        "consumer_cpu_us_per_event": round(sum(result.cpu_s) / result.events * 1e6, 1),
        "audit_while_writing_s": {k: _summary(v) for k, v in load.timings.items()},
        "audit_idle_s": {k: _summary(v) for k, v in idle.timings.items()},
        "audit_failures": load.failures + idle.failures,
        "verify_replay_lag_s": _summary(load.verify_lag_s),
        "replica_lag_s": _summary(sampler.lag_s),
        "replica_catch_up_s": round(catch_up, 2),
        "load_average_1m": _summary(sampler.load),
    }  # fmt: skip


def _startup_s(env: dict[str, str]) -> float:
    """The CLI's own start (interpreter and imports), part of every audit timing."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "procledger", "--version"], env=env,
                   capture_output=True, check=True)  # fmt: skip
    return time.perf_counter() - started


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m procledger_dev.bench.replica",
                                     description=__doc__)  # fmt: skip
    parser.add_argument("--events", type=int, default=300_000, help="default 300,000")
    parser.add_argument("--consumers", type=int, default=2, help="processes (default 2)")
    parser.add_argument("--modes", default=",".join(MODES), help="none,replica,primary")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each mode, interleaved")
    parser.add_argument("--repeats", type=int, default=3, help="idle audit runs (default 3)")
    parser.add_argument("--out", type=Path, default=Path("bench-results/replica.json"))
    parser.add_argument("--markdown", type=Path, help="also write the table here")
    args = parser.parse_args(argv)
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= set(MODES) or args.events < 100 or args.rounds < 1:
        print(f"--modes from {','.join(MODES)}, --events >= 100, --rounds >= 1", file=sys.stderr)
        return 2
    cfg = StackConfig.from_env()
    bench = _Run(argparse.Namespace(quick=False, events=args.events, repeats=args.repeats,
                                    results=args.out, keep=False, wide_partitions=0))  # fmt: skip
    started_load = os.getloadavg()
    runs: list[dict[str, Any]] = []
    try:
        bench.publish()
        for run in range(1, args.rounds + 1):
            for mode in modes:
                runs.append(measure(bench, cfg, mode, args.consumers, run))
                if len(bench.databases) > 1:  # one finished ledger at a time is enough
                    _drop_databases(bench.base, [bench.databases.pop(0)])
    finally:
        bench.clean_up()
    results = {
        "events": args.events, "records": bench.total, "consumers": args.consumers,
        "publish_events_per_s": round(bench.figures["publish"].median, 1),
        "cli_startup_s": round(_startup_s(dict(os.environ)), 2),
        "load_average_start": started_load, "load_average_end": os.getloadavg(),
        "runs": runs,
    }  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    if args.markdown is not None:
        args.markdown.write_text(markdown(results))
    print(markdown(results))
    return 0


def _p50_max(summary: dict[str, Any]) -> str:
    return "-" if not summary.get("n") else f"{summary['p50']} / {summary['max']} ({summary['n']})"


def markdown(results: dict[str, Any]) -> str:
    """One row per run: throughput, the audit commands' seconds, the replica's lag, the load."""
    lines = [
        f"{results['records']:,} records, {results['consumers']} consumer processes; load "
        f"average (1 min) {results['load_average_start'][0]:.1f} at the start, "
        f"{results['load_average_end'][0]:.1f} at the end; `procledger --version` alone takes "
        f"{results['cli_startup_s']} s (part of every audit timing).",
        "",
        "| Audit load | Run | Consumers ev/s | CPU µs/ev | totals s, writing p50 / max (n)"
        " | verify s, writing | totals s, idle | verify s, idle | replica lag s p50 / max"
        " | catch-up s | load 1m p50 | audit failures |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results["runs"]:
        writing, idle, lag = r["audit_while_writing_s"], r["audit_idle_s"], r["replica_lag_s"]
        lines.append(
            f"| {r['mode']} | {r['run']} | {r['events_per_s']:,.0f} | "
            f"{r['consumer_cpu_us_per_event']} | {_p50_max(writing['totals'])} | "
            f"{_p50_max(writing['verify'])} | {_p50_max(idle['totals'])} | "
            f"{_p50_max(idle['verify'])} | {lag.get('p50', '-')} / {lag.get('max', '-')} | "
            f"{r['replica_catch_up_s']} | {r['load_average_1m'].get('p50', '-')} | "
            f"{len(r['audit_failures'])} |"
        )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    raise SystemExit(main())
