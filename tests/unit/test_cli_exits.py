"""One mapping from a handler's errors to an exit code and a message naming the command."""

from __future__ import annotations

import argparse

import pytest

from procledger.entrypoints.cli.exits import EXIT_FAILED, EXIT_USAGE, guarded
from procledger.settings import SettingsError


class Unreachable(Exception):
    pass


class Refused(Unreachable):
    pass


def _handler(error: Exception | None) -> int:
    @guarded(lambda a: f"procledger {a.command}", {Refused: 7, Unreachable: EXIT_FAILED})
    def handler(args: argparse.Namespace) -> int:
        if error is not None:
            raise error
        return 0

    return handler(argparse.Namespace(command="thing"))


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (None, 0),
        (SettingsError("CONSUMER_GROUP must not be empty"), EXIT_USAGE),
        (Unreachable("cannot reach PostgreSQL"), EXIT_FAILED),
        (Refused("refused"), 7),  # the first listed kind that matches wins
    ],
)
def test_errors_become_exit_codes_and_one_line_naming_the_command(
    error: Exception | None, code: int, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _handler(error) == code
    err = capsys.readouterr().err
    assert err == ("" if error is None else f"procledger thing: {error}\n")


def test_an_unlisted_error_is_not_swallowed() -> None:
    with pytest.raises(KeyError):
        _handler(KeyError("bug"))
