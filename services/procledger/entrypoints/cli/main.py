"""The `procledger` command: one entry point, one subcommand per job."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from importlib import metadata

from procledger.logs import add_options, configure_from

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
    add_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_from(parser, args)
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
