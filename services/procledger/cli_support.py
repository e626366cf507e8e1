"""Helpers for subcommands: lazy entry points, so `--help` never imports Kafka or psycopg."""

from __future__ import annotations

import argparse
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass

Handler = Callable[[argparse.Namespace], int]


@dataclass(frozen=True, slots=True)
class LazyHandler:
    """A handler named 'package.module:function', imported only when the command runs."""

    target: str

    def resolve(self) -> Handler:
        module_name, _, attr = self.target.partition(":")
        function: Handler = getattr(importlib.import_module(module_name), attr)
        return function

    def __call__(self, args: argparse.Namespace) -> int:
        return self.resolve()(args)


def lazy(target: str) -> Handler:
    """A handler that imports 'package.module:function' only when the command runs."""
    return LazyHandler(target)


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
