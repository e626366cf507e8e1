"""LOG_FORMAT=json: one JSON object per line, through the real command-line entry point."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def run(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "procledger", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


SNIPPET = """
import logging
from procledger.logs import configure
configure(logging.INFO, "json")
log = logging.getLogger("procledger.test")
log.info("applied %d events", 3)
try:
    raise ValueError("two\\nlines")
except ValueError:
    log.exception("it failed")
"""


def test_json_logs_are_one_object_per_line() -> None:
    result = subprocess.run(
        [sys.executable, "-c", SNIPPET], capture_output=True, text=True, timeout=60, check=True
    )
    lines = result.stderr.splitlines()
    assert len(lines) == 2, result.stderr  # a traceback stays inside its line
    first, second = (json.loads(line) for line in lines)
    assert first["message"] == "applied 3 events"
    assert first["level"] == "INFO" and first["logger"] == "procledger.test"
    assert first["time"].endswith("+00:00")
    assert second["message"] == "it failed"
    assert "ValueError: two" in second["exception"]


def test_an_unknown_log_format_is_named() -> None:
    result = run("consume", LOG_FORMAT="xml")
    assert result.returncode == 2
    assert "LOG_FORMAT" in result.stderr and "'xml'" in result.stderr


@pytest.mark.parametrize("bad", [["--log-format", "xml"], ["--log-level", "LOUD"]])
def test_both_commands_refuse_a_bad_log_option_as_usage(bad: list[str]) -> None:
    from procledger.entrypoints.cli import main as product  # noqa: PLC0415
    from procledger_dev import cli as dev  # noqa: PLC0415

    for main, command in ((product.main, ["topics", "create"]), (dev.main, ["stack", "status"])):
        with pytest.raises(SystemExit) as exit_:
            main([*bad, *command])
        assert exit_.value.code == 2
