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
