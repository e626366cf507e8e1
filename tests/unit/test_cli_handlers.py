"""Every subcommand's lazy handler string names a function that exists."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator

import pytest

from procledger.entrypoints.cli.main import build_parser
from procledger.entrypoints.cli.support import LazyHandler
from procledger_dev.cli import build_parser as build_dev_parser


def _leaf_parsers(
    parser: argparse.ArgumentParser, path: str = "procledger"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    subparsers = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    if not subparsers:
        yield path, parser
    for action in subparsers:
        for name, child in action.choices.items():
            yield from _leaf_parsers(child, f"{path} {name}")


@pytest.mark.parametrize(
    ("build", "least"), [(build_parser, 10), (build_dev_parser, 1)], ids=["procledger", "dev"]
)
def test_every_command_handler_resolves_to_a_callable(
    build: Callable[[], argparse.ArgumentParser], least: int
) -> None:
    leaves = list(_leaf_parsers(build()))
    assert len(leaves) >= least, "the parser walk found too few commands to be the real CLI"
    for path, parser in leaves:
        handler = parser.get_default("func")
        assert handler is not None, f"{path} has no handler"
        if isinstance(handler, LazyHandler):
            assert callable(handler.resolve()), f"{path}: {handler.target} is not callable"
        else:
            assert callable(handler), f"{path}: handler is not callable"


def test_a_misspelt_handler_string_is_found() -> None:
    with pytest.raises(AttributeError, match="no_such_function"):
        LazyHandler("procledger.entrypoints.cli.main:no_such_function").resolve()
