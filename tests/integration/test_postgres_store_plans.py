"""The store's statements and their plans: lookups planned for their arguments, writes kept."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg

from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.codec.avro import encode
from procledger.domain.events import StockpileTargetSet
from procledger.ledger.apply import apply_batch
from procledger.ledger.batch import decode_record
from procledger.ledger.ports import KafkaRecord
from procledger.scenario.story import story_events
from tests.plugins.ledger import LedgerEnv

TOPIC = "plans.orders"
NOW = datetime(2026, 1, 1, tzinfo=UTC)
BATCHES = 16


def test_lookups_are_planned_per_batch_and_writes_keep_their_plans(ledger: LedgerEnv) -> None:
    """After many small batches, no state lookup is a prepared statement (a generic plan made
    while the ledger was small would scan whole tables once it has grown), and the journal's
    INSERT runs a kept generic plan (planning it for every batch cost a quarter of a small
    batch's statement time)."""
    # Every batch touches an order and a stockpile target, so each lookup runs in every batch,
    # more often than psycopg's threshold for preparing a statement.
    story = story_events()
    targets = [e for e in story if isinstance(e, StockpileTargetSet)][:BATCHES]
    orders = [e for e in story if not isinstance(e, StockpileTargetSet)][: 4 * BATCHES]
    batches = [[*orders[4 * i : 4 * i + 4], targets[i]] for i in range(BATCHES)]
    store = PostgresLedgerStore(ledger.database.url)
    try:
        offset = 0
        for events in batches:
            records = [
                KafkaRecord(TOPIC, 0, offset + i, 1_700_000_000_000, None, encode(e))
                for i, e in enumerate(events)
            ]
            offset += len(records)
            apply_batch(store, [decode_record(r) for r in records], {(TOPIC, 0)}, NOW)
        with store.transaction() as tx:
            conn: psycopg.Connection[Any] = tx._conn  # type: ignore[attr-defined]
            threshold = conn.prepare_threshold
            prepared = conn.execute(
                "SELECT statement, generic_plans FROM pg_prepared_statements"
            ).fetchall()
    finally:
        store.close()
    assert threshold is not None and threshold < BATCHES
    statements = {" ".join(s.split()): generic for s, generic in prepared}
    lookups = [s for s in statements if s.startswith("SELECT") and "ANY(" in s]
    lookups += [s for s in statements if "FROM ledger.stockpile_targets WHERE" in s]
    assert lookups == []
    [journal] = [g for s, g in statements.items() if s.startswith("INSERT INTO ledger.journal")]
    assert journal > 0
