"""The store's statements and their plans: lookups planned for their arguments, writes kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.codec.avro import encode
from procledger.ledger.apply import apply_batch
from procledger.ledger.batch import decode_record
from procledger.ledger.ports import KafkaRecord
from procledger.scenario.story import story_events
from tests.plugins.ledger import LedgerEnv

TOPIC = "plans.orders"


def test_lookups_are_planned_per_batch_and_writes_keep_their_plans(ledger: LedgerEnv) -> None:
    """After many small batches, no state lookup is a prepared statement (a generic plan made
    while the ledger was small would scan whole tables once it has grown), and the journal's
    INSERT runs a kept generic plan (planning it for every batch cost a quarter of a small
    batch's statement time)."""
    events = story_events()[:80]
    records = [
        KafkaRecord(TOPIC, 0, i, 1_700_000_000_000, None, encode(e)) for i, e in enumerate(events)
    ]
    assert any(type(e).__name__ == "StockpileTargetSet" for e in events[:40])
    store = PostgresLedgerStore(ledger.database.url)
    try:
        for start in range(0, len(records), 5):
            batch = [decode_record(r) for r in records[start : start + 5]]
            apply_batch(store, batch, {(TOPIC, 0)}, datetime.now(UTC))
        with store.transaction() as tx:
            conn: psycopg.Connection[Any] = tx._conn  # type: ignore[attr-defined]
            prepared = conn.execute(
                "SELECT statement, generic_plans FROM pg_prepared_statements"
            ).fetchall()
    finally:
        store.close()
    statements = {" ".join(s.split()): generic for s, generic in prepared}
    lookups = [s for s in statements if s.startswith("SELECT") and "ANY(" in s]
    lookups += [s for s in statements if "FROM ledger.stockpile_targets WHERE" in s]
    assert lookups == []
    [journal] = [g for s, g in statements.items() if s.startswith("INSERT INTO ledger.journal")]
    assert journal > 0
