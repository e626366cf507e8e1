"""Migration 0010 on a ledger that already holds payments: each order's FX_DIFFERENCE balance
is filled from its postings, the value the fold gives (rebuild finds no difference)."""

from __future__ import annotations

import json
import subprocess
import sys

import psycopg

from procledger.adapters.postgres.migrations import migrate
from procledger.scenario.story import story_events
from tests.plugins.ledger import LedgerEnv

MIGRATION = "0010.orders-fx-difference"
FX_FROM_POSTINGS = (
    "SELECT order_id, sum(CASE side WHEN 'D' THEN amount_usd ELSE -amount_usd END) "
    "FROM audit.postings WHERE account = 'FX_DIFFERENCE' GROUP BY order_id ORDER BY order_id"
)


def test_migration_fills_each_orders_fx_difference_from_its_postings(ledger: LedgerEnv) -> None:
    ledger.publish(story_events())
    ledger.consume()
    folded = ledger.rows("SELECT order_id, fx_difference_usd FROM ledger.orders ORDER BY order_id")
    from_postings = dict(ledger.rows(FX_FROM_POSTINGS))
    assert any(fx != 0 for _, fx in folded), "the story has payments at other rates"
    assert {o: fx for o, fx in folded if fx != 0} == from_postings

    # The ledger as it was before the migration: no column (nor the view that shows it),
    # the migration not recorded, and the postings it reads one row per leg, as they were
    # until 0014 made them one ledger.entries row per event.
    with psycopg.connect(ledger.database.admin_url) as conn:
        conn.execute("ALTER TABLE ledger.orders DROP COLUMN fx_difference_usd CASCADE")
        conn.execute("CREATE TABLE ledger.postings AS SELECT * FROM audit.postings")
        conn.execute("DELETE FROM _yoyo_migration WHERE migration_id = %s", (MIGRATION,))
    report = migrate(ledger.database)
    assert report.applied == (MIGRATION,)
    with psycopg.connect(ledger.database.admin_url) as conn:
        conn.execute("DROP TABLE ledger.postings")

    assert (
        ledger.rows("SELECT order_id, fx_difference_usd FROM audit.orders ORDER BY order_id")
        == folded
    )
    rebuild = subprocess.run(
        [sys.executable, "-m", "procledger", "ledger", "rebuild", "--format", "json"],
        env=ledger.env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert rebuild.returncode == 0, rebuild.stdout + rebuild.stderr
    assert json.loads(rebuild.stdout)["differences"] == []
