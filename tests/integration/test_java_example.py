"""The Java example producer (examples/java) against the real broker and ledger.

Built with Maven (Apache Avro's BinaryMessageEncoder, kafka-clients); its events must be
folded into the ledger, and its decoder must read what `procledger publish` wrote.
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

EXAMPLE = EXAMPLES / "java"


@pytest.fixture(scope="session")
def java_example() -> Iterator[list[str]]:
    """The example compiled by Maven; yields the `java -cp ...` command that runs it."""
    mvn, java = shutil.which("mvn"), shutil.which("java")
    assert mvn and java, "the Java example needs Maven and a JDK (installed by .ci/run)"
    # Normal resolution against ~/.m2: the first build downloads, later ones find it all.
    build_example([mvn, "-B", "-q", "compile"], EXAMPLE, timeout_s=900)
    classpath = (EXAMPLE / "target" / "classpath.txt").read_text().strip()
    yield [java, "-cp", f"{EXAMPLE / 'target' / 'classes'}:{classpath}", "procledger.example.Main"]


def test_java_events_are_folded_into_the_ledger(java_example: list[str], ledger: LedgerEnv) -> None:
    orders = produce_and_fold(java_example, ledger, "erp-java")
    assert orders == [
        (1000 + n, Decimal("3250.5000"), 400, Decimal("100000.00"), "EUR", "OPEN") for n in range(3)
    ]


def test_java_reads_what_procledger_publish_wrote(
    java_example: list[str], ledger: LedgerEnv, tmp_path: Path
) -> None:
    assert_reads_what_publish_wrote(java_example, ledger, tmp_path)
