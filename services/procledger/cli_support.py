"""Helpers for subcommands: lazy entry points, so `--help` never imports Kafka or psycopg."""

from __future__ import annotations

import argparse
import importlib
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


def lazy(target: str) -> Handler:
    """A handler that imports 'package.module:function' only when the command runs."""
    module_name, _, attr = target.partition(":")

    def handler(args: argparse.Namespace) -> int:
        function: Handler = getattr(importlib.import_module(module_name), attr)
        return function(args)

    return handler
