"""Audit queries on the story ledger: filters, both clocks, JSON/CSV shapes, trace, bundles."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal
from pathlib import Path

import pytest

from procledger.domain.ledger import empty_state, fold
from procledger.domain.money import cents_str
from procledger.domain.projections import totals as oracle_totals
from procledger.scenario.story import story_events
from procledger_dev.stack.config import StackConfig

from .audit_support import Story, audit, audit_process, story_ledger

HEADLINE = "1000000000.00"
JUNE = ("--from", "2023-01-01", "--to", "2023-06-15")


@pytest.fixture
def story(stack: StackConfig) -> Story:
    return story_ledger(stack)


def _by_caliber(rows: list[dict[str, object]]) -> dict[object, dict[str, object]]:
    return {r["caliber_mm"]: r for r in rows}


def test_totals_give_the_headline_live_and_as_of_mid_june(story: Story) -> None:
    live = audit(story.ledger, "totals", "--by", "caliber_mm", *JUNE, "--format", "json")
    assert live.code == 0, live.err
    assert _by_caliber(live.json())[155]["ordered_value_usd"] == HEADLINE
    as_of = audit(
        story.ledger, "totals", "--by", "caliber_mm", *JUNE,
        "--as-of", "2023-06-15T23:59:59Z", "--format", "json",
    )  # fmt: skip
    assert _by_caliber(as_of.json())[155]["ordered_value_usd"] == HEADLINE
    # Business time before the year began: none of the 2023 orders existed yet, which
    # totals answer with one row of zeros (not no row at all).
    early = audit(story.ledger, "totals", "--year", "2023", "--as-of", "2022-12-31T23:59:59Z")
    assert [r["orders"] for r in early.json()] == [0]


def test_time_travel_to_now_equals_the_live_projections(story: Story) -> None:
    far = ("--as-of", "2100-01-01T00:00:00Z", "--known-at", "2100-01-01T00:00:00Z")
    for query in (
        ("totals", "--by", "buyer,supplier,caliber_mm,purpose,currency,month"),
        ("orders",),
        ("stockpile",),
        ("orders", "--status", "open", "--buyer", "DEU"),
    ):
        live = audit(story.ledger, *query, "--format", "json")
        past = audit(story.ledger, *query, *far, "--format", "json")
        assert live.code == past.code == 0, live.err + past.err
        assert live.json() == past.json() != []


def test_known_at_sees_only_what_was_recorded_by_then(story: Story) -> None:
    before = story.before_consume.isoformat()
    for query in (("totals", "--by", "buyer"), ("orders",), ("stockpile",)):
        assert audit(story.ledger, *query, "--known-at", before).json() == []
    # Between the two consumer runs the ledger held exactly the first SPLIT events.
    first = fold(empty_state(), story_events()[: story.split]).state
    expected = oracle_totals(first, ["buyer"])
    got = audit(story.ledger, "totals", "--by", "buyer", "--known-at", story.between.isoformat())
    assert [(r["buyer"], r["ordered_value_usd"], r["orders"]) for r in got.json()] == [
        (t.get("buyer"), cents_str(t.ordered_value_usd), t.orders) for t in expected
    ]
    now = audit(story.ledger, "totals", "--by", "buyer").json()
    assert got.json() != now


def test_csv_and_json_shapes(story: Story) -> None:
    out = audit(
        story.ledger, "totals", "--by", "buyer,month", "--caliber-mm", "155", "--format", "csv"
    )
    rows = list(csv.DictReader(io.StringIO(out.out)))
    assert list(rows[0]) == [
        "buyer", "month", "ordered_quantity", "ordered_value_usd", "delivered_quantity",
        "paid_usd", "fx_difference_usd", "orders",
    ]  # fmt: skip
    for row in rows:
        assert Decimal(row["ordered_value_usd"]).as_tuple().exponent == -2
        assert int(row["orders"]) >= 1
    total = sum(Decimal(r["ordered_value_usd"]) for r in rows)
    whole = audit(story.ledger, "totals", "--caliber-mm", "155", "--format", "json").json()
    assert [str(total)] == [r["ordered_value_usd"] for r in whole]
    table = audit(story.ledger, "totals", "--by", "caliber_mm", "--format", "table").out
    assert table.splitlines()[0].split() == ["caliber_mm", *list(rows[0])[2:]]


def test_invalid_input_is_refused_with_the_name_of_what_is_wrong(story: Story) -> None:
    cases = {
        ("totals", "--by", "buyer,colour"): "--by: unknown dimension(s) 'colour'",
        ("totals", "--as-of", "yesterday"): "--as-of: must be an ISO-8601 timestamp",
        ("totals", "--known-at", "2023-06-15T00:00:00"): "--known-at: timestamp must include",
        ("orders", "--status", "LOST"): "status: must be one of OPEN, FULFILLED, CANCELLED",
        ("totals", "--from", "2023-13-01"): "--from: must be a date YYYY-MM-DD",
    }
    for args, message in cases.items():
        run = audit(story.ledger, *args)
        assert run.code == 2, args
        assert message in run.err, run.err
    real = audit_process(story.ledger, "totals", "--by", "nope")
    assert real.code == 2 and "unknown dimension(s) 'nope'" in real.stderr_text()


def test_orders_and_order_history_with_provenance(story: Story) -> None:
    page = audit(story.ledger, "orders", "--buyer", "DEU", "--caliber-mm", "155", "--year", "2023")
    orders = page.json()
    assert orders and all(o["buyer"] == "DEU" and o["placed_at"][:4] == "2023" for o in orders)
    oid = orders[0]["order_id"]
    detail = audit(story.ledger, "order", oid, "--format", "json").json()
    assert detail["state"] == orders[0]
    steps = detail["history"]
    assert steps[0]["event_type"] == "OrderPlaced"
    for step in steps:
        assert step["topic"] == story.ledger.topics.orders
        assert isinstance(step["partition"], int) and isinstance(step["offset"], int)
        assert step["occurred_at"] and step["recorded_at"]
    assert steps[-1]["paid_usd_after"] == detail["state"]["paid_usd"]
    # Business time part-way: only the steps that had occurred by then.
    cut = steps[1]["occurred_at"]
    past = audit(story.ledger, "order", oid, "--as-of", cut, "--format", "json").json()
    assert [s["event_id"] for s in past["history"]] == [
        s["event_id"] for s in steps if s["occurred_at"] <= cut
    ]
    as_csv = audit(story.ledger, "order", oid, "--format", "csv").out
    assert len(list(csv.DictReader(io.StringIO(as_csv)))) == len(steps)
    missing = audit(story.ledger, "order", "no-such-order")
    assert missing.code == 1 and "not found" in missing.err


def test_stockpile_gap_is_target_minus_delivered(story: Story) -> None:
    rows = audit(story.ledger, "stockpile", "--format", "json").json()
    assert rows
    for row in rows:
        assert row["gap"] == row["target_quantity"] - row["delivered_quantity"]
    deu = audit(story.ledger, "stockpile", "--buyer", "DEU", "--caliber-mm", "155").json()
    assert [(r["country"], r["caliber_mm"]) for r in deu] == [("DEU", 155)]
    # Before the June 2023 targets were set, the earlier targets (if any) were in force.
    before = audit(story.ledger, "stockpile", "--as-of", "2023-06-15T23:59:59Z").json()
    assert len(before) < len(rows) or before != rows


def test_trace_names_origin_hashes_postings_and_change(story: Story) -> None:
    oid = audit(story.ledger, "orders", "--limit", "1").json()[0]["order_id"]
    steps = audit(story.ledger, "order", oid).json()["history"]
    delivery = next(s for s in steps if s["event_type"] == "DeliveryRecorded")
    found = audit(story.ledger, "trace", delivery["event_id"], "--format", "json").json()
    entry = found["entry"]
    assert (entry["topic"], entry["partition"], entry["offset"]) == (
        delivery["topic"], delivery["partition"], delivery["offset"],
    )  # fmt: skip
    assert len(entry["hash"]) == len(entry["prev_hash"]) == len(entry["record_sha256"]) == 64
    assert entry["writer_fingerprint"] and entry["schema_version"] >= 1
    debits = sum(Decimal(p["amount_usd"]) for p in found["postings"] if p["side"] == "D")
    credits = sum(Decimal(p["amount_usd"]) for p in found["postings"] if p["side"] == "C")
    assert debits == credits > 0
    quantity = entry["payload"]["quantity"]
    assert found["after"]["delivered_quantity"] - found["before"]["delivered_quantity"] == quantity
    assert audit(story.ledger, "trace", "nope").code == 1


def test_verify_passes_on_a_clean_ledger_also_against_kafka(story: Story) -> None:
    run = audit(story.ledger, "verify", "--against-kafka", "--format", "json")
    assert run.code == 0, run.out
    report = run.json()
    assert report["ok"] and report["discrepancies"] == []
    assert report["checked"]["journal_rows"] == report["checked"]["kafka_records"] == 417


def test_bundle_verifies_offline_and_fails_after_one_byte_changes(
    story: Story, tmp_path: Path
) -> None:
    out = tmp_path / "deu.zip"
    made = audit(story.ledger, "export", "--out", str(out), "--buyer", "DEU", *JUNE)
    assert made.code == 0, made.err
    check = audit(story.ledger, "check-bundle", str(out), "--format", "json")
    assert check.code == 0, check.out
    assert check.json()["checked"]["journal_rows"] > 0
    whole = tmp_path / "all.zip"
    assert audit(story.ledger, "export", "--out", str(whole)).code == 0
    assert audit(story.ledger, "check-bundle", str(whole)).code == 0

    # One byte of one row changed, the zip rebuilt cleanly so only our own checks can tell.
    with zipfile.ZipFile(out) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    journal = files["journal.jsonl"]
    at = journal.index(b'"quantity":') + len(b'"quantity":') + 1
    files["journal.jsonl"] = journal[:at] + bytes([journal[at] ^ 1]) + journal[at + 1 :]
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    failed = audit(story.ledger, "check-bundle", str(bad), "--format", "json")
    assert failed.code == 1
    problems = failed.json()["discrepancies"]
    assert "journal.jsonl: SHA-256 differs from the manifest" in problems
    assert any("hash mismatch" in p and p.startswith("journal row ") for p in problems)
    # And a byte flipped in the zip file itself.
    raw = bytearray(out.read_bytes())
    raw[len(raw) // 3] ^= 0xFF
    flipped = tmp_path / "flipped.zip"
    flipped.write_bytes(bytes(raw))
    assert audit(story.ledger, "check-bundle", str(flipped)).code == 1
