"""The LedgerStore port's contract, written once, run against PostgreSQL and the in-memory store."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

import psycopg
import pytest

from procledger.adapters.memory import InMemoryLedgerStore
from procledger.adapters.postgres import writes
from procledger.adapters.postgres.rows import (
    ENTRY_COLUMNS,
    ORDER_COLUMNS,
    entry_rows,
    json_records,
    order_from_row,
    order_to_row,
)
from procledger.adapters.postgres.store import PostgresLedgerStore
from procledger.codec.avro import encode
from procledger.domain.chain import GENESIS, entry_hash
from procledger.domain.events import OrderPlaced, StockpileTargetSet
from procledger.domain.ledger import empty_state, fold
from procledger.domain.state import LedgerState
from procledger.ledger.apply import AppliedBatch, apply_batch
from procledger.ledger.batch import Decoded, build_batch, decode_record, state_keys
from procledger.ledger.ports import (
    EventJournaled,
    KafkaRecord,
    LedgerStore,
    StalePosition,
)
from procledger.scenario.story import story_events
from procledger_dev.stack.config import StackConfig
from tests.plugins.ledger import LedgerEnv, make_ledger

TOPIC = "contract.orders"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


# The store writes a batch of at most PIPELINED_ROWS journal rows as INSERTs in one pipeline
# and a larger one by COPY: with the threshold moved, every batch goes one way or the other.
WRITE_PATHS = {"inserted": 10**9, "copied": -1}


@pytest.fixture(params=["postgres-inserted", "postgres-copied", "memory"])
def store(
    request: pytest.FixtureRequest, ledger: LedgerEnv, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LedgerStore]:
    if request.param == "memory":
        yield InMemoryLedgerStore()
        return
    path = request.param.removeprefix("postgres-")
    monkeypatch.setattr(writes, "PIPELINED_ROWS", WRITE_PATHS[path])
    pg = PostgresLedgerStore(ledger.database.url)
    yield pg
    pg.close()


def _records(count: int, start: int = 0) -> list[KafkaRecord]:
    events = [e for e in story_events() if not type(e).__name__.startswith("Stockpile")]
    return [
        KafkaRecord(TOPIC, 0, start + i, 1_700_000_000_000, None, encode(e))
        for i, e in enumerate(events[start : start + count])
    ]


def _apply(store: LedgerStore, records: list[KafkaRecord]) -> AppliedBatch:
    return apply_batch(store, [decode_record(r) for r in records], {(TOPIC, 0)}, NOW)


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
        state = tx.load_state(state_keys([decode_record(r) for r in records]))
    assert state.orders
    assert len(state.seen_event_ids) == 30


def test_replayed_records_are_trimmed_and_change_nothing(store: LedgerStore) -> None:
    _apply(store, _records(30))
    before = store.positions()
    again = _apply(store, _records(30))
    assert again.write is None and not again.gaps
    assert store.positions() == before


def test_a_stale_position_rolls_the_whole_batch_back(store: LedgerStore) -> None:
    _apply(store, _records(10))
    items = [decode_record(r) for r in _records(10, start=10)]
    with pytest.raises(StalePosition), store.transaction() as tx:
        positions = tx.lock_positions({(TOPIC, 0)})
        state = tx.load_state(state_keys(items))
        batch = build_batch(items, state, positions, NOW)
        # A zombie that believed the partition stood at offset 3.
        stale = replace(batch.positions[0], expected_offset=3)
        tx.write(replace(batch, positions=[stale]))
    assert store.positions()[(TOPIC, 0)].next_offset == 10
    with store.transaction() as tx:
        seen = tx.load_state(state_keys(items)).seen_event_ids
    assert not seen, "nothing of the rolled-back batch may remain"


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_a_concurrent_duplicate_is_a_conflict_and_leaves_nothing(
    ledger: LedgerEnv, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another consumer journaled the same events first, after this batch loaded its state:
    the journal's unique index refuses the write, the store names it (EventJournaled, a
    conflict: a lookup finds the events), and nothing of the batch remains, on either write
    path."""
    monkeypatch.setattr(writes, "PIPELINED_ROWS", WRITE_PATHS[path])
    store = PostgresLedgerStore(ledger.database.url)
    try:
        _apply(store, _records(10))
        entries = ledger.scalar("SELECT count(*) FROM ledger.entries")
        items = [decode_record(replace(r, partition=1)) for r in _records(10)]
        with pytest.raises(EventJournaled, match="already journaled"), store.transaction() as tx:
            positions = tx.lock_positions({(TOPIC, 1)})
            tx.write(build_batch(items, empty_state(), positions, NOW))
        assert (TOPIC, 1) not in store.positions()
        assert ledger.scalar("SELECT count(*) FROM ledger.journal") == 10
        assert ledger.scalar("SELECT count(*) FROM ledger.entries") == entries
    finally:
        store.close()


def test_the_state_read_with_the_lock_sees_the_batch_that_held_it(ledger: LedgerEnv) -> None:
    """lock_and_load() sends its reads with the lock: they run once the lock is granted, so
    a consumer that waited for another's batch reads that batch's orders and events."""
    first, waiting = (
        PostgresLedgerStore(ledger.database.url),
        PostgresLedgerStore(ledger.database.url),
    )
    items = [decode_record(r) for r in _records(10)]
    seen: list[tuple[int, LedgerState]] = []

    def wait_for_the_lock() -> None:
        with waiting.transaction() as tx:
            positions, state = tx.lock_and_load({(TOPIC, 0)}, state_keys(items))
            seen.append((positions[(TOPIC, 0)].next_offset, state))

    try:
        with first.transaction() as tx:
            positions, state = tx.lock_and_load({(TOPIC, 0)}, state_keys(items))
            tx.write(build_batch(items, state, positions, NOW))
            thread = threading.Thread(target=wait_for_the_lock)
            thread.start()
            deadline = time.monotonic() + 10
            while not ledger.scalar(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ):
                assert time.monotonic() < deadline, "the second consumer never waited"
                time.sleep(0.02)
        thread.join(timeout=10)
        [(next_offset, state)] = seen
        assert next_offset == 10
        assert state.seen_event_ids == state_keys(items).event_ids
        assert set(state.orders) == set(state_keys(items).order_ids)
    finally:
        first.close()
        waiting.close()


def test_records_past_the_position_are_kept_out_and_reported_as_a_gap(store: LedgerStore) -> None:
    _apply(store, _records(10))
    ahead = _apply(store, _records(5, start=15))
    assert ahead.gaps == {(TOPIC, 0): 10}
    assert store.positions()[(TOPIC, 0)].next_offset == 10


def test_an_amount_no_column_holds_is_refused_and_the_rest_is_written(store: LedgerStore) -> None:
    records = _records(12)
    first = decode_record(records[0])
    assert isinstance(first, Decoded) and isinstance(first.decoded.event, OrderPlaced)
    huge = replace(first.decoded.event, quantity=10**17)  # folds into > numeric(20,2)
    records[0] = replace(records[0], value=encode(huge))
    applied = _apply(store, records)
    assert applied.write is not None
    assert [r.reason_code for r in applied.write.rejections][:1] == ["INVALID_EVENT"]
    assert store.positions()[(TOPIC, 0)].next_offset == 12


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_the_journal_keeps_every_instant_exactly(
    ledger: LedgerEnv, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store writes instants as text: each column reads back as the instant it was given,
    early and late years, microseconds and a missing Kafka timestamp included."""
    monkeypatch.setattr(writes, "PIPELINED_ROWS", WRITE_PATHS[path])
    records = _records(4)
    instants = [
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 1, tzinfo=UTC),
        datetime(2023, 6, 15, 9, 30, 0, 123456, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    kafka_ms = [-1, 0, 1_700_000_000_123, 1_700_000_000_999]
    for i, (occurred, ms) in enumerate(zip(instants, kafka_ms, strict=True)):
        item = decode_record(records[i])
        assert isinstance(item, Decoded)
        event = replace(item.decoded.event, occurred_at=occurred)
        records[i] = replace(records[i], value=encode(event), timestamp_ms=ms)
    recorded = datetime(2026, 1, 1, 0, 0, 0, 654321, tzinfo=UTC)
    store = PostgresLedgerStore(ledger.database.url)
    try:
        applied = apply_batch(store, [decode_record(r) for r in records], {(TOPIC, 0)}, recorded)
    finally:
        store.close()
    assert applied.write is not None and len(applied.write.journal) == 4
    # The chain hashed occurred_at from the payload's text: still what entry_hash() computes.
    assert all(
        j.hash == entry_hash(j.prev_hash, **j.hashed_fields()) for j in applied.write.journal
    )
    with psycopg.connect(ledger.database.url) as conn:
        rows = conn.execute(
            "SELECT occurred_at, recorded_at, kafka_timestamp FROM ledger.journal "
            "ORDER BY kafka_offset"
        ).fetchall()
    assert rows == [
        (j.occurred_at, j.recorded_at, j.kafka_timestamp) for j in applied.write.journal
    ]
    assert [r[0] for r in rows] == instants
    assert rows[0][2] is None and rows[3][2] == datetime(2023, 11, 14, 22, 13, 20, 999000, UTC)


ODD_IDS = [
    frozenset(),
    frozenset({"LOT-1"}),
    frozenset({'a "quoted" lot', "back\\slash", "comma,brace{}", "NULL", "tab\tand\nline"}),
    frozenset({"obus 155 mm \u2013 lot n°1", "ロット", " inner space", "\\", '"', "{}"}),
]


def _write_rows(
    conn: psycopg.Connection[tuple[object, ...]],
    table: str,
    columns: list[str],
    rows: list[list[object]] | list[tuple[str, ...]],
    how: str,
) -> None:
    """Rows into a table as the store sends them: by COPY, or as JSON records."""
    names = ", ".join(columns)
    if how == "copy":
        with conn.cursor().copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    else:
        conn.execute(
            f"INSERT INTO {table} ({names}) SELECT {names} "
            f"FROM json_populate_recordset(NULL::{table}, %s::json)",
            (json_records(columns, rows),),
        )


@pytest.mark.parametrize("how", ["copy", "json"])
@pytest.mark.parametrize("ids", ODD_IDS, ids=range(len(ODD_IDS)))
def test_an_orders_row_reads_back_as_the_order(
    ledger: LedgerEnv, ids: frozenset[str], how: str
) -> None:
    """order_to_row() writes instants and id sets as text, sent by COPY or as a JSON record:
    whatever an id holds (quotes, backslashes, braces, commas, NULL, control characters), it
    reads back the same."""
    placed = next(e for e in story_events() if isinstance(e, OrderPlaced))
    order = next(iter(fold(empty_state(), [placed]).state.orders.values()))
    order = replace(
        order,
        delivery_ids=ids,
        payment_ids=frozenset(i + "-paid" for i in ids),
        placed_at=datetime(999, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    )
    with psycopg.connect(ledger.database.url) as conn:
        conn.execute("CREATE TEMP TABLE o (LIKE ledger.orders)")
        _write_rows(conn, "o", list(ORDER_COLUMNS), [order_to_row(order)], how)
        with conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            row = cur.execute(f"SELECT {', '.join(ORDER_COLUMNS)} FROM o").fetchone()
    assert row is not None
    assert order_from_row(row) == order


@pytest.mark.parametrize("how", ["copy", "json"])
def test_entry_rows_read_back_as_the_postings_leg_by_leg(ledger: LedgerEnv, how: str) -> None:
    """entry_rows() writes each event's legs as array literals, sent by COPY or as JSON
    records: every posting of the story reads back in its order, with the same amounts,
    whatever an account name holds."""
    result = fold(empty_state(), story_events())
    postings = [p for _, outcome in result.outcomes for p in getattr(outcome, "postings", ())]
    odd = replace(postings[0], account='odd "account", \\ {x}')
    postings = [odd, *postings[1:]]
    assert len(postings) > len({p.event_id for p in postings}) > 100
    with psycopg.connect(ledger.database.url) as conn:
        conn.execute("CREATE TEMP TABLE e (LIKE ledger.entries INCLUDING CONSTRAINTS)")
        _write_rows(conn, "e", ENTRY_COLUMNS.split(", "), list(entry_rows(postings)), how)
        back = conn.execute(
            "SELECT e.event_id, e.order_id, l.account, l.side, l.amount, e.currency, l.amount_usd "
            "FROM e CROSS JOIN LATERAL unnest(e.accounts, e.sides, e.amounts, e.amounts_usd) "
            "WITH ORDINALITY AS l (account, side, amount, amount_usd, n) "
            # An INSERT may place a row on an earlier page with room (COPY does not): the
            # events' order is the one given, not the table's.
            "ORDER BY array_position(%s::text[], e.event_id), l.n",
            ([p.event_id for p in postings],),
        ).fetchall()
    assert back == [
        (p.event_id, p.order_id, p.account, p.side, p.amount, p.currency, p.amount_usd)
        for p in postings
    ]


def test_a_later_batch_finds_an_order_whatever_its_id_holds(store: LedgerStore) -> None:
    """load_state() sends the batch's ids as one text[] literal: an id with quotes,
    backslashes, braces and commas still finds its order and its events."""
    odd = 'PO "7", \\ {x}'
    events = [e for e in story_events() if not isinstance(e, StockpileTargetSet)]
    placed = next(e for e in events if isinstance(e, OrderPlaced))
    later = next(e for e in events if e.order_id == placed.order_id and e is not placed)
    records = [
        KafkaRecord(TOPIC, 0, i, 1_700_000_000_000, None, encode(replace(e, order_id=odd)))
        for i, e in enumerate([placed, later, placed])
    ]
    _apply(store, records[:1])
    applied = _apply(store, records[1:])
    assert applied.write is not None
    assert [j.order_id for j in applied.write.journal] == [odd]
    # The repeated placement is known by its id: a re-delivery, not a new order.
    assert [r.reason_code for r in applied.write.rejections] == ["REDELIVERED"]


def test_repeats_of_journaled_events_are_known_among_new_ones(store: LedgerStore) -> None:
    """apply_batch() first applies a batch without looking its event ids up. A repeat of a
    journaled event of any type, at a new offset, is still told for what it is: a
    re-delivery if it repeats the event, a conflict if its id names another; the new events
    beside them are journaled, each once."""
    records = _records(40)
    first = _apply(store, records[:30])
    assert first.write is not None
    journaled = {j.event_id: j.event_type for j in first.write.journal}
    assert len(set(journaled.values())) >= 4, "repeats of several event types"
    repeats = [replace(r, offset=30 + i) for i, r in enumerate(records[:30])]
    # One id re-used for another event: the last new record's event under a journaled id.
    reused = decode_record(records[39])
    assert isinstance(reused, Decoded)
    taken_id = next(iter(journaled))
    conflicting = encode(replace(reused.decoded.event, event_id=taken_id))
    new = [replace(r, offset=60 + i) for i, r in enumerate(records[30:39])]
    batch = [*repeats, *new, KafkaRecord(TOPIC, 0, 69, 1_700_000_000_000, None, conflicting)]
    applied = _apply(store, batch)
    assert applied.write is not None
    codes = [(r.event_id, r.reason_code) for r in applied.write.rejections]
    assert codes == [
        *[(event_id, "REDELIVERED") for event_id in journaled],
        (taken_id, "EVENT_ID_CONFLICT"),
    ]
    assert [j.offset for j in applied.write.journal] == list(range(60, 69))
    assert store.positions()[(TOPIC, 0)].next_offset == 70


def test_both_write_paths_leave_the_same_rows(
    stack: StackConfig, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The story in batches of 40, inserted into one ledger and copied into another: every
    table holds the same rows (bar the moment each position row was last updated)."""
    events = [e for e in story_events() if not isinstance(e, StockpileTargetSet)]
    records = [
        KafkaRecord(TOPIC, 0, i, 1_700_000_000_000 + i, None, encode(e))
        for i, e in enumerate(events)
    ]
    tables = {
        "journal": "SELECT * FROM ledger.journal ORDER BY id",
        "entries": "SELECT * FROM ledger.entries ORDER BY event_id",
        "orders": "SELECT * FROM ledger.orders ORDER BY order_id",
        "positions": "SELECT topic, kafka_partition, next_offset, chain_head, journal_rows, "
        "rejected_rows FROM ledger.positions ORDER BY 1, 2",
    }
    contents = {}
    for path, threshold in WRITE_PATHS.items():
        monkeypatch.setattr(writes, "PIPELINED_ROWS", threshold)
        ledger = make_ledger(stack, f"{unique}{path[0]}")
        store = PostgresLedgerStore(ledger.database.url)
        try:
            for start in range(0, len(records), 40):
                _apply(store, records[start : start + 40])
        finally:
            store.close()
        contents[path] = {name: ledger.rows(query) for name, query in tables.items()}
    inserted, copied = contents["inserted"], contents["copied"]
    assert len(inserted["journal"]) == len(records)
    assert len(inserted["entries"]) > 100 and inserted["orders"]
    assert inserted == copied
