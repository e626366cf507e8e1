"""Idempotent control of the local servers, in dependency order."""

from __future__ import annotations

import argparse
import sys
import time

from procledger_dev.stack import exporters, kafka, postgres, prometheus, replica
from procledger_dev.stack.commands import COMPONENTS
from procledger_dev.stack.config import StackConfig, StackError


def _default_components(cfg: StackConfig, action: str) -> list[str]:
    """Everything; the replica is opt-in for `up` (make test's stack start stays as fast as
    before), while `down` and `status` always include it."""
    if action == "up" and not cfg.pg_replica:
        return [name for name in COMPONENTS if name != "replica"]
    return list(COMPONENTS)


def run(args: argparse.Namespace) -> int:
    try:
        cfg = StackConfig.from_env()
        chosen = args.only or _default_components(cfg, args.action)
        modules = {
            "postgres": postgres,
            "replica": replica,
            "kafka": kafka,
            "exporters": exporters,
            "prometheus": prometheus,
        }
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
        print(f"procledger-dev stack {args.action}: {err}", file=sys.stderr)
        return 1
