"""Verify catches tampering by a superuser; the auditor role can read the views and nothing else."""

from __future__ import annotations

from typing import Any

import psycopg
import pytest

from procledger.scenario.story import story_events
from tests.plugins.ledger import LedgerEnv

from .audit_support import audit

EVENTS = 40


@pytest.fixture
def small(ledger: LedgerEnv) -> LedgerEnv:
    """The first story events, three of them published twice (REDELIVERED, not applied)."""
    events = story_events()[:EVENTS]
    ledger.publish([*events, *events[:3]])
    ledger.consume(until_idle=1.0)
    ledger.env.update({"AUDITOR_TOKENS": "t", "AUDIT_VERIFY_INTERVAL_S": "0"})
    assert audit(ledger, "verify").code == 0
    return ledger


def _tamper(ledger: LedgerEnv, statement: str, params: tuple[Any, ...] = ()) -> None:
    # The append-only triggers refuse even the owner; only replication mode bypasses them.
    with psycopg.connect(ledger.database.admin_url, autocommit=True) as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute(statement, params)


def _verify(ledger: LedgerEnv) -> list[str]:
    run = audit(ledger, "verify", "--format", "json")
    assert run.code == 1, run.out
    problems: list[str] = run.json()["discrepancies"]
    return problems


def test_an_altered_journal_row_is_named(small: LedgerEnv) -> None:
    row_id, event_id, tp, offset = small.rows(
        "SELECT id, event_id, kafka_partition, kafka_offset FROM ledger.journal "
        "WHERE event_type = 'OrderPlaced' ORDER BY id LIMIT 1"
    )[0]
    _tamper(
        small,
        "UPDATE ledger.journal SET payload = jsonb_set(payload, '{quantity}', '999999') "
        "WHERE id = %s",
        (row_id,),
    )
    problems = _verify(small)
    topic = small.topics.orders
    assert f"journal row {row_id} ({topic}[{tp}]@{offset}, event {event_id}): hash mismatch" in (
        problems
    )
    # The live projection no longer matches what the (altered) journal folds to, either.
    assert any(p.startswith("order ") and "quantity" in p for p in problems)


def test_a_deleted_journal_row_is_a_missing_offset_and_a_broken_link(small: LedgerEnv) -> None:
    row_id, tp, offset = small.rows(
        "SELECT j.id, j.kafka_partition, j.kafka_offset FROM ledger.journal j "
        "WHERE j.event_type = 'DeliveryRecorded' ORDER BY id LIMIT 1"
    )[0]
    _tamper(small, "DELETE FROM ledger.entries WHERE event_id = "
            "(SELECT event_id FROM ledger.journal WHERE id = %s)", (row_id,))  # fmt: skip
    _tamper(small, "DELETE FROM ledger.journal WHERE id = %s", (row_id,))
    problems = _verify(small)
    assert f"{small.topics.orders}[{tp}]: offset {offset} missing" in problems
    assert any("chain link broken" in p or "chain head" in p for p in problems)


def test_a_removed_rejection_is_a_missing_offset(small: LedgerEnv) -> None:
    rid, topic, tp, offset = small.rows(
        "SELECT id, topic, kafka_partition, kafka_offset FROM ledger.rejections ORDER BY id LIMIT 1"
    )[0]
    _tamper(small, "DELETE FROM ledger.rejections WHERE id = %s", (rid,))
    assert _verify(small) == [f"{topic}[{tp}]: offset {offset} missing"]


def test_unbalanced_postings_and_a_moved_chain_head_are_named(small: LedgerEnv) -> None:
    event_id = small.scalar("SELECT min(event_id) FROM ledger.entries")
    _tamper(small, "UPDATE ledger.entries SET amounts_usd[1] = amounts_usd[1] + 1 "
            "WHERE event_id = %s", (event_id,))  # fmt: skip
    _tamper(small, "UPDATE ledger.positions SET chain_head = %s WHERE kafka_partition = "
            "(SELECT min(kafka_partition) FROM ledger.positions)", (bytes(32),))  # fmt: skip
    problems = _verify(small)
    assert any(p.startswith(f"postings of event {event_id} do not balance") for p in problems)
    assert any("chain head" in p for p in problems)


def test_rejections_query_filters_by_reason_and_topic(small: LedgerEnv) -> None:
    rows = audit(small, "rejections", "--reason", "redelivered", "--format", "json").json()
    assert len(rows) == 3 and {r["reason_code"] for r in rows} == {"REDELIVERED"}
    assert all(len(r["record_sha256"]) == 64 for r in rows)
    assert audit(small, "rejections", "--topic", "no.such.topic").json() == []
    before = audit(small, "rejections", "--known-at", "2000-01-01T00:00:00Z").json()
    assert before == []


def test_the_auditor_role_reads_views_only_and_writes_nothing(small: LedgerEnv) -> None:
    url = small.env["AUDIT_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        views = [
            "journal", "postings", "rejections", "positions", "orders", "stockpile_targets",
            "order_totals", "stockpile",
        ]  # fmt: skip
        for view in views:
            conn.execute(f"SELECT * FROM audit.{view} LIMIT 1")
        for table in ("journal", "postings", "rejections", "positions", "orders",
                      "stockpile_targets", "order_totals"):  # fmt: skip
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(f"SELECT 1 FROM ledger.{table} LIMIT 1")
        for statement in (
            "INSERT INTO audit.orders (order_id) VALUES ('x')",
            "UPDATE audit.journal SET payload = '{}'",
            "DELETE FROM audit.journal",
            "DELETE FROM audit.rejections",
            "UPDATE audit.positions SET next_offset = 0",
            "INSERT INTO ledger.journal (event_id) VALUES ('x')",
            "UPDATE ledger.orders SET quantity = 0",
            "DELETE FROM ledger.stockpile_targets",
            "TRUNCATE ledger.journal",
            "CREATE TABLE audit.mine (x int)",
            "CREATE VIEW audit.mine AS SELECT 1",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
