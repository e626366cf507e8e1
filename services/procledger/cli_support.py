"""Helpers for subcommands: lazy entry points, so `--help` never imports Kafka or psycopg."""

from __future__ import annotations

import argparse
import importlib
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
