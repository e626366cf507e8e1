"""`procledger stack up|down|status`: idempotent control of the local servers."""

from __future__ import annotations

import argparse
import sys
import time

from procledger.stack import kafka, postgres, prometheus
from procledger.stack.config import StackConfig, StackError

COMPONENTS = ("postgres", "kafka", "prometheus")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = sub.add_parser(
        "stack",
        help="start, stop or inspect the local Kafka, PostgreSQL and Prometheus servers",
        description=(
            "Runs real servers on 127.0.0.1 without Docker. Ports and folders come from "
            "STACK_DIR (default var/stack), STACK_KAFKA_PORT (9092), STACK_KAFKA_BROKERS "
            "(1, or 3 for a replicated cluster), STACK_PG_PORT (55432) and "
            "STACK_PROMETHEUS_PORT (9090); a second stack with other values runs beside the "
            "first. Logs go to STACK_DIR/logs."
        ),
    )
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument(
        "--only",
        choices=COMPONENTS,
        action="append",
        help="act on this component only (repeatable); default: all",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = StackConfig.from_env()
        chosen = args.only or list(COMPONENTS)
        modules = {"postgres": postgres, "kafka": kafka, "prometheus": prometheus}
        order = chosen if args.action != "down" else list(reversed(chosen))
        failed = False
        for name in order:
            started = time.monotonic()
            module = modules[name]
            if args.action == "up":
                lines = module.up(cfg)
            elif args.action == "down":
                lines = module.down(cfg)
            else:
                lines = module.status(cfg)
                failed = failed or any("stopped" in line for line in lines)
            for line in lines:
                suffix = f"  [{time.monotonic() - started:.1f}s]" if args.action == "up" else ""
                print(line + suffix, flush=True)
        if args.action == "up":
            print(f"logs in {cfg.logs}")
        # status exits 3 when something is down, like an init script's status.
        return 3 if failed else 0
    except StackError as err:
        print(f"procledger stack {args.action}: {err}", file=sys.stderr)
        return 1
