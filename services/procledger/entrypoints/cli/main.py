"""The `procledger` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from importlib import metadata

from procledger.logs import FORMATS, configure

# Each module exposes register(subparsers); imported lazily so `--help` stays fast.
COMMAND_MODULES = (
    "procledger.entrypoints.cli.admin",
    "procledger.entrypoints.cli.consume",
    "procledger.entrypoints.cli.audit",
    "procledger.entrypoints.cli.publishing",
    "procledger.entrypoints.cli.serve",
    "procledger.entrypoints.cli.completion",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procledger",
        description=(
            "Procurement order ledger: publish order events to Kafka, fold them exactly once "
            "into a hash-chained PostgreSQL ledger, and audit it. Configuration comes from "
            "environment variables (see README: Configuration)."
        ),
    )
    parser.add_argument(
        "--version", action="version", version=f"procledger {metadata.version('procledger')}"
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (env LOG_LEVEL; default INFO)",
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("LOG_FORMAT") or "text",
        help="text (default) or json: one JSON object per line (env LOG_FORMAT)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = getattr(logging, str(args.log_level).upper(), None)
    if not isinstance(level, int):
        parser.error(f"--log-level: unknown level {args.log_level!r}")
    if args.log_format not in FORMATS:
        parser.error(
            f"--log-format (env LOG_FORMAT): must be text or json, got {args.log_format!r}"
        )
    configure(level, args.log_format)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
