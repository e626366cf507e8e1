"""The Java example producer (examples/java) against the real broker and ledger.

Built with Maven (Apache Avro's BinaryMessageEncoder, kafka-clients); its events must be
folded into the ledger, and its decoder must read what `procledger publish` wrote.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from procledger.codec.jsonform import event_to_json_dict, instant_text
from procledger.codec.schemas import default_registry, schemas_dir
from procledger.codec.textformats import event_to_jsonl
from procledger.domain.events import event_type
from procledger.scenario import story_events
from tests.integration.conftest import LedgerEnv

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "java"


@pytest.fixture(scope="session")
def java_example() -> Iterator[list[str]]:
    """The example compiled by Maven; yields the `java -cp ...` command that runs it."""
    mvn, java = shutil.which("mvn"), shutil.which("java")
    assert mvn and java, "the Java example needs Maven and a JDK (installed by .ci/run)"
    # Normal resolution against ~/.m2: the first build downloads, later ones find it all.
    build = subprocess.run(
        [mvn, "-B", "-q", "compile"], cwd=EXAMPLE, capture_output=True, text=True,
        timeout=900, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]
    classpath = (EXAMPLE / "target" / "classpath.txt").read_text().strip()
    yield [java, "-cp", f"{EXAMPLE / 'target' / 'classes'}:{classpath}", "procledger.example.Main"]


def _run(command: list[str], *args: str) -> list[dict[str, Any]]:
    result = subprocess.run(
        [*command, *args, "--schemas", str(schemas_dir())],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_java_events_are_folded_into_the_ledger(java_example: list[str], ledger: LedgerEnv) -> None:
    sent = _run(
        java_example, "produce", "--bootstrap", ledger.kafka.bootstrap_servers,
        "--topic", ledger.topics.orders, "--orders", "3", "--source-system", "erp-java",
    )  # fmt: skip
    assert [s["event_type"] for s in sent] == ["OrderPlaced", "DeliveryRecorded",
                                               "PaymentRecorded"] * 3  # fmt: skip
    ledger.consume()
    journal = {
        event_id: (kind, fingerprint)
        for event_id, kind, fingerprint in ledger.rows(
            "SELECT event_id::text, event_type, writer_fingerprint FROM ledger.journal"
        )
    }
    current = {
        t: default_registry().current(t).fingerprint_hex for t in default_registry().event_types
    }
    assert journal == {
        s["event_id"]: (s["event_type"], current[str(s["event_type"])]) for s in sent
    }
    assert ledger.scalar("SELECT count(*) FROM ledger.rejections") == 0
    orders = ledger.rows(
        "SELECT quantity, unit_price, delivered_quantity, paid, currency, status"
        " FROM ledger.orders ORDER BY quantity"
    )
    assert orders == [
        (1000 + n, Decimal("3250.5000"), 400, Decimal("100000.00"), "EUR", "OPEN") for n in range(3)
    ]


def _java_fields(kind: str, fields: dict[str, object]) -> dict[str, object]:
    """The Java reader's line in the ledger's JSON form (its timestamps are UTC micros)."""
    out = dict(fields)
    for spec in default_registry().current(kind).fields:
        value = out[spec.name]
        if spec.kind == "timestamp" and isinstance(value, int):
            out[spec.name] = instant_text(datetime(1970, 1, 1, tzinfo=UTC) +
                                          timedelta(microseconds=value))  # fmt: skip
    return out


def test_java_reads_what_procledger_publish_wrote(
    java_example: list[str], ledger: LedgerEnv, tmp_path: Path
) -> None:
    events = story_events()
    path = tmp_path / "story.jsonl"
    path.write_text("".join(event_to_jsonl(e) + "\n" for e in events), encoding="utf-8")
    published = subprocess.run(
        [sys.executable, "-m", "procledger.cli", "publish", str(path)],
        env=ledger.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    read = _run(
        java_example, "read", "--bootstrap", ledger.kafka.bootstrap_servers,
        "--topics", f"{ledger.topics.orders},{ledger.topics.stockpile_targets}",
        "--expect", str(len(events)),
    )  # fmt: skip
    assert all("error" not in line for line in read), [x for x in read if "error" in x][:3]
    decoded: dict[str, tuple[str, dict[str, object]]] = {}
    for line in read:
        fields, kind = line["fields"], str(line["event_type"])
        assert isinstance(fields, dict)
        decoded[str(fields["event_id"])] = (kind, _java_fields(kind, fields))
    assert decoded == {e.event_id: (event_type(e), event_to_json_dict(e)) for e in events}
