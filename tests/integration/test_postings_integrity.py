"""Postings may only reference journal rows: the database refuses orphans inside the batch."""

from __future__ import annotations

import psycopg
import pytest

from procledger.scenario.story import story_events
from tests.plugins.ledger import LedgerEnv

ORPHAN = (
    "INSERT INTO ledger.postings (event_id, order_id, account, side, amount, currency, amount_usd)"
)


def _journal_event_id(ledger: LedgerEnv) -> str:
    ledger.publish(story_events()[:3])
    ledger.consume()
    event_id: str = ledger.scalar("SELECT event_id FROM ledger.journal ORDER BY id LIMIT 1")
    return event_id


def test_an_orphan_posting_is_refused_and_its_transaction_rolls_back(ledger: LedgerEnv) -> None:
    known = _journal_event_id(ledger)
    before = ledger.scalar("SELECT count(*) FROM ledger.postings")
    with psycopg.connect(ledger.database.url) as conn:
        with (
            pytest.raises(psycopg.errors.ForeignKeyViolation, match="no-such-event"),
            conn.cursor() as cur,
            cur.copy(
                "COPY ledger.postings (event_id, order_id, account, side, amount, currency,"
                " amount_usd) FROM STDIN"
            ) as copy,
        ):
            # A valid posting first: the whole statement must be refused, not just the row.
            copy.write_row((known, "o-1", "CASH", "C", "1.00", "USD", "1.00"))
            copy.write_row(("no-such-event", "o-1", "CASH", "D", "1.00", "USD", "1.00"))
        conn.rollback()
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(ORPHAN + " VALUES ('other-orphan', 'o', 'CASH', 'D', 1, 'USD', 1)")
    assert ledger.scalar("SELECT count(*) FROM ledger.postings") == before


def test_postings_that_reference_the_journal_are_accepted(ledger: LedgerEnv) -> None:
    known = _journal_event_id(ledger)
    with psycopg.connect(ledger.database.url) as conn:
        before = conn.execute("SELECT count(*) FROM ledger.postings").fetchone()
        conn.execute(ORPHAN + " VALUES (%s, 'o', 'CASH', 'D', 0, 'USD', 0)", (known,))
        after = conn.execute("SELECT count(*) FROM ledger.postings").fetchone()
        assert before is not None and after is not None and after[0] == before[0] + 1
        conn.rollback()  # accepted; rolled back so the ledger stays balanced


def test_the_check_probes_the_journal_index_whatever_the_statistics_say(
    ledger: LedgerEnv,
) -> None:
    """A small journal's statistics made the planner hash the whole journal for each COPY's
    check (migration 0011); the check must look each posting up in the event_id index."""
    known = _journal_event_id(ledger)
    plans: list[str] = []
    with psycopg.connect(ledger.database.admin_url) as conn:  # LOAD needs a superuser
        conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
        conn.execute("ANALYZE ledger.journal")  # statistics of a journal of a few rows
        conn.execute("LOAD 'auto_explain'")
        for setting in ("log_min_duration = 0", "log_nested_statements = on"):
            conn.execute(f"SET auto_explain.{setting}")
        conn.execute("SET client_min_messages = log")
        conn.execute(ORPHAN + " VALUES (%s, 'o', 'CASH', 'D', 0, 'USD', 0)", (known,))
        conn.rollback()
    check = [p for p in plans if "new_postings" in p]
    assert len(check) == 1, plans
    assert "journal_event_id_key" in check[0] and "Hash" not in check[0], check[0]


def test_postings_keep_only_the_indexes_a_read_uses(ledger: LedgerEnv) -> None:
    """Each index costs an insertion per posting (about 3.2 per event) in every batch. The
    primary key orders an event's legs and event_id finds them (audit trace, bundles,
    verify); the account index served no read once the orders projection kept the FX
    difference (0010), so 0013 dropped it."""
    indexes = ledger.rows(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'ledger' AND tablename = 'postings'"
    )
    assert sorted(name for (name,) in indexes) == ["postings_event_idx", "postings_pkey"]
