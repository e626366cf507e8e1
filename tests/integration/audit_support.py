"""Audit test helpers: a fresh ledger per call, the story ledger once per session, the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from unittest import mock

from procledger.entrypoints.cli.main import main
from procledger.scenario.story import story_events
from procledger_dev.stack.config import StackConfig
from tests.plugins.ledger import LedgerEnv, make_ledger

AUDITOR_TOKEN = "auditor-token-for-tests"
INTAKE_TOKEN = "intake-token-for-tests"


def new_ledger(stack: StackConfig) -> LedgerEnv:
    """As the `ledger` fixture builds one (own database and topics), for wider scopes."""
    return make_ledger(
        stack,
        uuid.uuid4().hex[:10],
        AUDITOR_TOKENS=AUDITOR_TOKEN,
        INTAKE_TOKENS=INTAKE_TOKEN,
        AUDIT_VERIFY_INTERVAL_S="0",
    )


@dataclass(frozen=True)
class Story:
    """The demo story consumed in two runs: the first SPLIT events, then the rest."""

    ledger: LedgerEnv
    before_consume: datetime  # nothing was recorded yet
    between: datetime  # after the first run, before the second
    split: int


_STORY: list[Story] = []
SPLIT = 200


def story_ledger(stack: StackConfig) -> Story:
    """Built once per test session and shared: the tests that use it only read."""
    if not _STORY:
        ledger = new_ledger(stack)
        events = story_events()
        before = datetime.now(UTC)
        ledger.publish(events[:SPLIT])
        ledger.consume(until_idle=1.0)
        between = datetime.now(UTC)
        ledger.publish(events[SPLIT:])
        ledger.consume(until_idle=1.0)
        _STORY.append(Story(ledger, before, between, SPLIT))
    return _STORY[0]


@dataclass(frozen=True)
class Run:
    code: int
    out: str
    err: str

    def json(self) -> Any:
        return json.loads(self.out)

    def stderr_text(self) -> str:
        return self.err


def audit(ledger: LedgerEnv, *args: str) -> Run:
    """`procledger audit ARGS` in this process (fast), with the ledger's environment."""
    return procledger_in_process(ledger, "audit", *args)


def procledger_in_process(ledger: LedgerEnv, *args: str) -> Run:
    """`procledger ARGS` in this process (fast), with the ledger's environment."""
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, ledger.env, clear=True),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
    ):
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse errors
            code = int(exit_.code or 0)
    return Run(code, out.getvalue(), err.getvalue())


def audit_process(ledger: LedgerEnv, *args: str) -> Run:
    """The real command in a subprocess: exit codes and streams as a shell sees them."""
    done = subprocess.run(
        [sys.executable, "-m", "procledger", "audit", *args],
        env=ledger.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    return Run(done.returncode, done.stdout, done.stderr)
