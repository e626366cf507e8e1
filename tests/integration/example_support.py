"""What the example producers' tests share: running them, and reading their output."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from procledger.codec.jsonform import decimal_text, event_to_json_dict
from procledger.codec.schemas import default_registry
from procledger.codec.textformats import event_to_jsonl
from procledger.domain.chain import instant_text
from procledger.domain.events import event_type
from procledger.resources import avro_schemas_dir
from procledger.scenario import story_events
from tests.plugins.ledger import LedgerEnv

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def run_example(command: list[str], *args: str) -> list[dict[str, Any]]:
    """Run an example with the repository's schemas; its stdout is JSON Lines."""
    result = subprocess.run(
        [*command, *args, "--schemas", str(avro_schemas_dir())],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    return [json.loads(line) for line in result.stdout.splitlines()]


def ledger_form(kind: str, fields: dict[str, Any]) -> dict[str, Any]:
    """A reader's fields in the ledger's JSON form: instants (UTC micros) as text, decimals
    at the schema's scale (digits beyond it are kept, so a wrong value still differs)."""
    out = dict(fields)
    for spec in default_registry().current(kind).fields:
        value = out[spec.name]
        if spec.kind == "timestamp" and isinstance(value, int):
            out[spec.name] = instant_text(EPOCH + timedelta(microseconds=value))
        elif spec.kind == "decimal" and isinstance(value, str):
            out[spec.name] = decimal_text(Decimal(value), Decimal(1).scaleb(-spec.scale))
    return out


def publish_story(ledger: LedgerEnv, tmp_path: Path) -> dict[str, tuple[str, dict[str, Any]]]:
    """`procledger publish` the June 2023 story; returns each event's type and JSON form."""
    events = story_events()
    path = tmp_path / "story.jsonl"
    path.write_text("".join(event_to_jsonl(e) + "\n" for e in events), encoding="utf-8")
    published = subprocess.run(
        [sys.executable, "-m", "procledger", "publish", str(path)],
        env=ledger.env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert published.returncode == 0, published.stderr
    return {e.event_id: (event_type(e), event_to_json_dict(e)) for e in events}


def decoded_lines(read: list[dict[str, Any]]) -> dict[str, tuple[str, dict[str, Any]]]:
    """A reader's lines by event id, in the ledger's JSON form; no line may be an error."""
    assert all("error" not in line for line in read), [x for x in read if "error" in x][:3]
    decoded: dict[str, tuple[str, dict[str, Any]]] = {}
    for line in read:
        kind, fields = str(line["event_type"]), line["fields"]
        decoded[str(fields["event_id"])] = (kind, ledger_form(kind, fields))
    return decoded


def assert_folded(ledger: LedgerEnv, sent: list[dict[str, Any]]) -> None:
    """Every event an example sent is in the journal, written with the current schemas."""
    journal = {
        event_id: (kind, fingerprint)
        for event_id, kind, fingerprint in ledger.rows(
            "SELECT event_id::text, event_type, writer_fingerprint FROM ledger.journal"
        )
    }
    registry = default_registry()
    current = {t: registry.current(t).fingerprint_hex for t in registry.event_types}
    expected = {s["event_id"]: (s["event_type"], current[s["event_type"]]) for s in sent}
    assert journal == expected
    assert ledger.scalar("SELECT count(*) FROM ledger.rejections") == 0


def produce_and_fold(
    command: list[str], ledger: LedgerEnv, source_system: str
) -> list[tuple[Any, ...]]:
    """Run the example's `produce` (3 orders: placed, delivered, paid), fold them, check every
    event is applied; returns the orders' (quantity, unit_price, delivered, paid, currency,
    status) by quantity."""
    sent = run_example(
        command, "produce", "--bootstrap", ledger.kafka.bootstrap_servers,
        "--topic", ledger.topics.orders, "--orders", "3", "--source-system", source_system,
    )  # fmt: skip
    assert sorted(s["event_type"] for s in sent) == sorted(
        ["OrderPlaced", "DeliveryRecorded", "PaymentRecorded"] * 3
    )
    ledger.consume()
    assert_folded(ledger, sent)
    return ledger.rows(
        "SELECT quantity, unit_price, delivered_quantity, paid, currency, status"
        " FROM ledger.orders ORDER BY quantity"
    )


def build_example(command: list[str], folder: Path, timeout_s: int) -> None:
    """Build an example in `folder`; a failed build fails the test with its output."""
    build = subprocess.run(
        command, cwd=folder, capture_output=True, text=True, timeout=timeout_s, check=False
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-3000:]


def assert_reads_what_publish_wrote(command: list[str], ledger: LedgerEnv, tmp_path: Path) -> None:
    """The example's `read` decodes every event `procledger publish` wrote, field for field."""
    published = publish_story(ledger, tmp_path)
    read = run_example(
        command, "read", "--bootstrap", ledger.kafka.bootstrap_servers,
        "--topics", f"{ledger.topics.orders},{ledger.topics.stockpile_targets}",
        "--expect", str(len(published)),
    )  # fmt: skip
    assert decoded_lines(read) == published
