"""The `procledger-dev` command: tooling for a source checkout (the local stack, ...)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from procledger.logs import add_options, configure_from

COMMAND_MODULES = ("procledger_dev.stack.commands",)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="procledger-dev",
        description=(
            "Development tooling of procledger, for a source checkout: the local stack of "
            "real servers. The product itself is the `procledger` command."
        ),
    )
    add_options(parser)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_from(parser, args)  # the product's own setup and options
    code: int = args.func(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
