"""The Go example producer (examples/go: hamba/avro, franz-go) against the real stack.

Built with `go build` (modules from the Go module proxy, then the module cache); its events
must be folded into the ledger, and its decoder must read what `procledger publish` wrote.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.integration.example_support import (
    EXAMPLES,
    assert_reads_what_publish_wrote,
    build_example,
    produce_and_fold,
)
from tests.plugins.ledger import LedgerEnv


@pytest.fixture(scope="session")
def go_example(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The example built by `go build` into a temporary folder (the tree stays clean)."""
    go = shutil.which("go") or "/usr/local/go/bin/go"
    binary = tmp_path_factory.mktemp("go-example") / "procledger-go-example"
    build_example([go, "build", "-o", str(binary), "."], EXAMPLES / "go", timeout_s=1500)
    yield [str(binary)]


def test_go_events_are_folded_into_the_ledger(go_example: list[str], ledger: LedgerEnv) -> None:
    orders = produce_and_fold(go_example, ledger, "erp-go")
    assert orders == [
        (2000 + n, Decimal("2875.2500"), 500, Decimal("50000.00"), "EUR", "OPEN") for n in range(3)
    ]


def test_go_reads_what_procledger_publish_wrote(
    go_example: list[str], ledger: LedgerEnv, tmp_path: Path
) -> None:
    assert_reads_what_publish_wrote(go_example, ledger, tmp_path)
