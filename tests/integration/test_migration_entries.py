"""Migration 0014 on a ledger that holds its postings one row per leg: each event's legs
become one ledger.entries row, in their order, and auditors read the legs a consumer writes."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from psycopg import sql
from yoyo import get_backend, read_migrations

from procledger.adapters.postgres.migrations import migrate
from procledger.adapters.postgres.rows import JOURNAL_COLUMNS
from procledger.resources import migrations_dir
from procledger.scenario.story import story_events
from procledger.settings import DatabaseSettings, Env
from tests.plugins.ledger import LedgerEnv

MIGRATION = "0014.postings-one-entry-per-event"
LEGS = (
    "SELECT event_id, leg, order_id, account, side, amount, currency, amount_usd "
    "FROM audit.postings ORDER BY event_id, leg"
)


@pytest.fixture
def consumed(ledger: LedgerEnv) -> LedgerEnv:
    ledger.publish(story_events())
    ledger.consume()
    return ledger


@pytest.fixture
def before_0014(consumed: LedgerEnv) -> Iterator[DatabaseSettings]:
    """A second database migrated up to 0013, holding the consumed ledger's journal and its
    postings as 0001 kept them: one row per leg, legs in the order the fold wrote them."""
    name = consumed.database.admin_url.rsplit("/", 1)[1] + "_pre14"
    env = {
        **consumed.env,
        "DATABASE_URL": consumed.env["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}",
        "DATABASE_ADMIN_URL": consumed.env["DATABASE_ADMIN_URL"].rsplit("/", 1)[0] + f"/{name}",
    }
    settings = DatabaseSettings.from_env(Env(env), admin=True)
    server = settings.admin_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    backend = get_backend(settings.admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    earlier = read_migrations(str(migrations_dir())).filter(lambda m: m.id != MIGRATION)
    with backend.lock():
        backend.apply_migrations(backend.to_apply(earlier))
    with (
        psycopg.connect(consumed.database.admin_url) as source,
        psycopg.connect(settings.admin_url) as target,
    ):
        with (
            source.cursor().copy(
                f"COPY (SELECT {JOURNAL_COLUMNS} FROM ledger.journal ORDER BY id) TO STDOUT"
            ) as out,
            target.cursor().copy(f"COPY ledger.journal ({JOURNAL_COLUMNS}) FROM STDIN") as into,
        ):
            for block in out:
                into.write(block)
        legs = source.execute(
            "SELECT p.event_id, p.order_id, p.account, p.side, p.amount, p.currency, p.amount_usd "
            "FROM audit.postings p JOIN ledger.journal j USING (event_id) ORDER BY j.id, p.leg"
        ).fetchall()
        with target.cursor() as cur:
            cur.executemany(
                "INSERT INTO ledger.postings (event_id, order_id, account, side, amount, "
                "currency, amount_usd) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                legs,
            )
    yield settings
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_each_events_legs_become_one_entry_as_the_consumer_writes_them(
    consumed: LedgerEnv, before_0014: DatabaseSettings
) -> None:
    with psycopg.connect(before_0014.admin_url) as conn:
        per_leg = conn.execute("SELECT count(*), count(DISTINCT event_id) FROM ledger.postings")
        legs, events = per_leg.fetchone() or (0, 0)
    assert legs > events > 100, "the story's postings, several legs per event"

    assert migrate(before_0014).applied == (MIGRATION,)

    with psycopg.connect(before_0014.admin_url) as conn:
        migrated = conn.execute(LEGS).fetchall()
        entries = conn.execute("SELECT * FROM ledger.entries ORDER BY event_id").fetchall()
        assert conn.execute("SELECT to_regclass('ledger.postings')").fetchone() == (None,)
    assert len(migrated) == legs and len(entries) == events
    assert migrated == consumed.rows(LEGS)
    assert entries == consumed.rows("SELECT * FROM ledger.entries ORDER BY event_id")


def test_an_event_whose_legs_disagree_stops_the_migration_and_moves_nothing(
    before_0014: DatabaseSettings,
) -> None:
    with psycopg.connect(before_0014.admin_url) as conn:
        event_id = conn.execute("SELECT min(event_id) FROM ledger.postings").fetchone()
        assert event_id is not None
        conn.execute(
            "INSERT INTO ledger.postings (event_id, order_id, account, side, amount, currency, "
            "amount_usd) VALUES (%s, 'o', 'CASH', 'D', 0, 'XXX', 0)",
            event_id,
        )
        before = conn.execute("SELECT count(*) FROM ledger.postings").fetchone()

    with pytest.raises(psycopg.errors.RaiseException, match=f"postings of event {event_id[0]} "):
        migrate(before_0014)

    with psycopg.connect(before_0014.admin_url) as conn:
        assert conn.execute("SELECT count(*) FROM ledger.postings").fetchone() == before
        assert conn.execute("SELECT to_regclass('ledger.entries')").fetchone() == (None,)
        recorded = conn.execute(
            "SELECT count(*) FROM _yoyo_migration WHERE migration_id = %s", (MIGRATION,)
        ).fetchone()
        assert recorded == (0,)
