"""The LedgerStore port's contract, written once, run against PostgreSQL and the in-memory store."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from procledger.adapters.memory import InMemoryLedgerStore
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.codec.avro import encode
from procledger.domain.chain import GENESIS
from procledger.ledger.batch import build_batch, decode_record, state_keys, trim
from procledger.ledger.ports import KafkaRecord, LedgerStore, StalePosition
from procledger.scenario.story import story_events

from .conftest import LedgerEnv

TOPIC = "contract.orders"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture(params=["postgres", "memory"])
def store(request: pytest.FixtureRequest, ledger: LedgerEnv) -> Iterator[LedgerStore]:
    if request.param == "memory":
        yield InMemoryLedgerStore()
        return
    pg = PostgresLedgerStore(ledger.database.url)
    yield pg
    pg.close()


def _records(count: int, start: int = 0) -> list[KafkaRecord]:
    events = [e for e in story_events() if not type(e).__name__.startswith("Stockpile")]
    return [
        KafkaRecord(TOPIC, 0, start + i, 1_700_000_000_000, None, encode(e))
        for i, e in enumerate(events[start : start + count])
    ]


def _apply(store: LedgerStore, records: list[KafkaRecord]) -> None:
    items = [decode_record(r) for r in records]
    with store.transaction() as tx:
        positions = tx.lock_positions({(TOPIC, 0)})
        kept = trim(items, positions).items
        state = tx.load_state(*state_keys(kept))
        tx.write(build_batch(kept, state, positions, NOW))


def test_new_partitions_start_at_offset_zero_with_the_genesis_hash(store: LedgerStore) -> None:
    with store.transaction() as tx:
        positions = tx.lock_positions({(TOPIC, 0), (TOPIC, 1)})
    assert {p.next_offset for p in positions.values()} == {0}
    assert {p.chain_head for p in positions.values()} == {GENESIS}


def test_a_written_batch_moves_the_position_and_is_visible(store: LedgerStore) -> None:
    records = _records(30)
    _apply(store, records)
    position = store.positions()[(TOPIC, 0)]
    assert position.next_offset == 30
    assert position.chain_head != GENESIS
    with store.transaction() as tx:
        state = tx.load_state(*state_keys([decode_record(r) for r in records]))
    assert state.orders
    assert len(state.seen_event_ids) == 30


def test_replayed_records_are_trimmed_and_change_nothing(store: LedgerStore) -> None:
    _apply(store, _records(30))
    before = store.positions()
    _apply(store, _records(30))
    assert store.positions() == before


def test_a_stale_position_rolls_the_whole_batch_back(store: LedgerStore) -> None:
    _apply(store, _records(10))
    items = [decode_record(r) for r in _records(10, start=10)]
    with pytest.raises(StalePosition), store.transaction() as tx:
        positions = tx.lock_positions({(TOPIC, 0)})
        state = tx.load_state(*state_keys(items))
        batch = build_batch(items, state, positions, NOW)
        # A zombie that believed the partition stood at offset 3.
        stale = replace(batch.positions[0], expected_offset=3)
        tx.write(replace(batch, positions=[stale]))
    assert store.positions()[(TOPIC, 0)].next_offset == 10
    with store.transaction() as tx:
        seen = tx.load_state(*state_keys(items)).seen_event_ids
    assert not seen, "nothing of the rolled-back batch may remain"
