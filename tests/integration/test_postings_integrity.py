"""Each event's postings are one ledger.entries row that must reference a journal row and hold
well-formed legs: the database refuses anything else inside the batch's transaction."""

from __future__ import annotations

import psycopg
import pytest

from procledger.scenario.story import story_events
from tests.plugins.ledger import LedgerEnv

COLUMNS = "event_id, order_id, currency, accounts, sides, amounts, amounts_usd"
INSERT = f"INSERT INTO ledger.entries ({COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s)"


def _journal_event_id(ledger: LedgerEnv) -> str:
    """A journal event without an entry: the story's first stockpile target (eighth event)
    moves no value."""
    ledger.publish(story_events()[:8])
    ledger.consume()
    event_id: str = ledger.scalar(
        "SELECT event_id FROM ledger.journal j WHERE NOT EXISTS "
        "(SELECT 1 FROM ledger.entries e WHERE e.event_id = j.event_id) ORDER BY id LIMIT 1"
    )
    return event_id


def test_an_orphan_entry_is_refused_and_its_transaction_rolls_back(ledger: LedgerEnv) -> None:
    known = _journal_event_id(ledger)
    before = ledger.scalar("SELECT count(*) FROM ledger.entries")
    with psycopg.connect(ledger.database.url) as conn:
        with (
            pytest.raises(psycopg.errors.ForeignKeyViolation, match="no-such-event"),
            conn.cursor() as cur,
            cur.copy(f"COPY ledger.entries ({COLUMNS}) FROM STDIN") as copy,
        ):
            # A valid entry first: the whole statement must be refused, not just the row.
            copy.write_row((known, "o-1", "USD", "{CASH,FX}", "{C,D}", "{1,1}", "{1,1}"))
            copy.write_row(("no-such-event", "o-1", "USD", "{CASH}", "{D}", "{1}", "{1}"))
        conn.rollback()
        with pytest.raises(psycopg.errors.ForeignKeyViolation, match="other-orphan"):
            conn.execute(INSERT, ("other-orphan", "o", "USD", ["CASH"], ["D"], [1], [1]))
    assert ledger.scalar("SELECT count(*) FROM ledger.entries") == before


def test_an_entry_that_references_the_journal_is_accepted(ledger: LedgerEnv) -> None:
    known = _journal_event_id(ledger)
    with psycopg.connect(ledger.database.url) as conn:  # the consumer's role
        conn.execute(INSERT, (known, "o", "USD", ["CASH", "FX"], ["D", "C"], [0, 0], [1, 1]))
        row = conn.execute(
            "SELECT accounts, sides FROM ledger.entries WHERE event_id = %s", (known,)
        ).fetchone()
        assert row == (["CASH", "FX"], ["D", "C"])
        conn.rollback()  # accepted; rolled back so the ledger stays balanced


@pytest.mark.parametrize(
    ("legs", "constraint"),
    [
        ((["CASH", "FX"], ["D"], [1, 1], [1, 1]), "entries_legs_aligned"),
        (([], [], [], []), "entries_legs_aligned"),
        (([["CASH"]], [["D"]], [[1]], [[1]]), "entries_legs_aligned"),
        ((["CASH", None], ["D", "C"], [1, 1], [1, 1]), "entries_legs_not_null"),
        ((["CASH", "FX"], ["D", "C"], [1, None], [1, 1]), "entries_legs_not_null"),
        ((["CASH", "FX"], ["D", "X"], [1, 1], [1, 1]), "entries_sides"),
        ((["CASH", "FX"], ["D", "C"], [1, -1], [1, 1]), "entries_amounts_not_negative"),
        ((["CASH", "FX"], ["D", "C"], [1, 1], [-1, 1]), "entries_amounts_not_negative"),
    ],
)
def test_malformed_legs_are_refused_by_name(
    ledger: LedgerEnv, legs: tuple[list[object], ...], constraint: str
) -> None:
    known = _journal_event_id(ledger)
    with (
        psycopg.connect(ledger.database.url) as conn,
        pytest.raises(psycopg.errors.CheckViolation, match=constraint),
    ):
        conn.execute(INSERT, (known, "o", "USD", *legs))


def test_an_event_has_at_most_one_entry(ledger: LedgerEnv) -> None:
    ledger.publish(story_events()[:3])
    ledger.consume()
    event_id = ledger.scalar("SELECT min(event_id) FROM ledger.entries")
    with (
        psycopg.connect(ledger.database.url) as conn,
        pytest.raises(psycopg.errors.UniqueViolation, match="entries_pkey"),
    ):
        conn.execute(INSERT, (event_id, "o", "USD", ["CASH"], ["D"], [0], [0]))


def test_auditors_read_each_leg_numbered_and_held_to_cents(ledger: LedgerEnv) -> None:
    known = _journal_event_id(ledger)
    with psycopg.connect(ledger.database.admin_url) as conn:  # reads the audit views
        conn.execute(
            INSERT, (known, "o", "USD", ["CASH", "FX"], ["D", "C"], ["1.5", "2.239"], [1, 1])
        )
        legs = conn.execute(
            "SELECT leg, account, side, amount FROM audit.postings WHERE event_id = %s "
            "ORDER BY leg",
            (known,),
        ).fetchall()
        conn.rollback()
    # Each leg a numeric(20,2), as each posting row was.
    assert [(n, a, s, str(m)) for n, a, s, m in legs] == [
        (1, "CASH", "D", "1.50"),
        (2, "FX", "C", "2.24"),
    ]
    with (
        psycopg.connect(ledger.database.url) as conn,
        pytest.raises(psycopg.errors.NumericValueOutOfRange),
    ):
        conn.execute(INSERT, (known, "o", "USD", ["CASH"], ["D"], [10**18], [0]))


def test_the_check_probes_the_journal_index_whatever_the_statistics_say(
    ledger: LedgerEnv,
) -> None:
    """A small journal's statistics made the planner hash the whole journal for each COPY's
    check (migrations 0011, 0014); the check must look each entry up in the event_id index."""
    known = _journal_event_id(ledger)
    plans: list[str] = []
    with psycopg.connect(ledger.database.admin_url) as conn:  # LOAD needs a superuser
        conn.add_notice_handler(lambda d: plans.append(d.message_primary or ""))
        conn.execute("ANALYZE ledger.journal")  # statistics of a journal of a few rows
        conn.execute("LOAD 'auto_explain'")
        for setting in ("log_min_duration = 0", "log_nested_statements = on"):
            conn.execute(f"SET auto_explain.{setting}")
        conn.execute("SET client_min_messages = log")
        conn.execute(INSERT, (known, "o", "USD", ["CASH"], ["D"], [0], [0]))
        conn.rollback()
    check = [p for p in plans if "new_entries" in p]
    assert len(check) == 1, plans
    assert "journal_event_id_key" in check[0] and "Hash" not in check[0], check[0]


def test_entries_keep_only_the_index_their_reads_use(ledger: LedgerEnv) -> None:
    """Each index costs an insertion per entry in every batch. The primary key finds an
    event's entry (audit trace, bundles, verify) and allows one per event."""
    indexes = ledger.rows(
        "SELECT indexname FROM pg_indexes WHERE schemaname = 'ledger' AND tablename = 'entries'"
    )
    assert [name for (name,) in indexes] == ["entries_pkey"]
