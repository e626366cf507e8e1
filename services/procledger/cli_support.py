"""Helpers for subcommands: lazy entry points, so `--help` never imports Kafka or psycopg."""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Callable

Handler = Callable[[argparse.Namespace], int]


def lazy(target: str) -> Handler:
    """A handler that imports 'package.module:function' only when the command runs."""
    module_name, _, attr = target.partition(":")

    def handler(args: argparse.Namespace) -> int:
        function: Handler = getattr(importlib.import_module(module_name), attr)
        return function(args)

    return handler


class LibraryWarningsToDebug(logging.Filter):
    """kafka-python's internal warnings ("Task ... blocking the event loop", reconnects it
    retries by itself) are not the user's business: they become DEBUG records, shown only at
    --log-level DEBUG. Failures reach the user as the command's own error messages."""

    def __init__(self, level: int, prefixes: tuple[str, ...] = ("kafka.",)) -> None:
        super().__init__()
        self._level = level
        self._prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.name.startswith(self._prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self._level <= logging.DEBUG
        return True
