"""Exit codes of every command, and the one place a handler's errors become a message and a code."""

from __future__ import annotations

import argparse
import functools
import sys
from collections.abc import Callable, Mapping

from tqdm import tqdm

from procledger.settings import SettingsError

EXIT_OK = 0
EXIT_FAILED = 1  # the work failed, or a server it needs did not answer
EXIT_USAGE = 2  # an option or environment variable is wrong: change it and run again
EXIT_INVALID = 3  # the input was refused; nothing of it was published
EXIT_REJECTED = 4  # events status: at least one event was rejected by the ledger
EXIT_UNKNOWN = 5  # events status: at least one event is not in the ledger (yet)

Handler = Callable[[argparse.Namespace], int]
# Checked in order, so a subclass listed before its base gets its own code.
ErrorCodes = Mapping[type[Exception], int]


def fail(prog: str, message: str, code: int) -> int:
    """Say on stderr what went wrong, named after the command, and return the exit code."""
    tqdm.write(f"{prog}: {message}", file=sys.stderr)  # below a progress bar, never through it
    return code


def guarded(
    prog: str | Callable[[argparse.Namespace], str], codes: ErrorCodes
) -> Callable[[Handler], Handler]:
    """Map the errors a handler lets out to exit codes; SettingsError always means EXIT_USAGE."""
    table: dict[type[Exception], int] = {SettingsError: EXIT_USAGE, **codes}
    caught = tuple(table)

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        def run(args: argparse.Namespace) -> int:
            try:
                return handler(args)
            except caught as err:
                name = prog(args) if callable(prog) else prog
                code = next(c for kind, c in table.items() if isinstance(err, kind))
                return fail(name, str(err), code)

        return run

    return decorate
