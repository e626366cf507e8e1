"""The `procledger-dev` command: tooling for a source checkout (the local stack, ...)."""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence

from procledger.logs import configure

COMMAND_MODULES = ("procledger_dev.stack.commands",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procledger-dev",
        description=(
            "Development tooling of procledger, for a source checkout: the local stack of "
            "real servers. The product itself is the `procledger` command."
        ),
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (env LOG_LEVEL; default INFO)",
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
    configure(level, "text")  # the product's own setup, kafka-python's chatter quietened
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
