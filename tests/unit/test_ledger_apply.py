"""apply_batch() against the in-memory store: when it looks a batch's event ids up, and when not."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime

from procledger.adapters.memory import InMemoryLedgerStore
from procledger.codec.avro import encode
from procledger.domain.events import Event, OrderPlaced, StockpileTargetSet
from procledger.domain.state import LedgerState
from procledger.ledger.apply import AppliedBatch, apply_batch
from procledger.ledger.batch import decode_record
from procledger.ledger.ports import KafkaRecord, LedgerTransaction, StateKeys
from procledger.scenario.story import story_events

TOPIC = "orders"
NOW = datetime(2026, 1, 1, tzinfo=UTC)


class CountingStore(InMemoryLedgerStore):
    """The in-memory store, counting its transactions and the event ids each state read asks
    for (its lock_and_load() reads through load_state())."""

    def __init__(self) -> None:
        super().__init__()
        self.transactions = 0
        self.ids_read: list[int] = []

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        self.transactions += 1
        with super().transaction() as tx:
            load = tx.load_state

            def counted(keys: StateKeys) -> LedgerState:
                self.ids_read.append(len(keys.event_ids))
                return load(keys)

            setattr(tx, "load_state", counted)  # noqa: B010 (mypy refuses assigning a method)
            yield tx


def _records(events: Sequence[Event], start: int = 0) -> list[KafkaRecord]:
    return [
        KafkaRecord(TOPIC, 0, start + i, 1_700_000_000_000, None, encode(e))
        for i, e in enumerate(events)
    ]


def _apply(store: CountingStore, records: list[KafkaRecord]) -> AppliedBatch:
    return apply_batch(store, [decode_record(r) for r in records], {(TOPIC, 0)}, NOW)


EVENTS: list[Event] = [e for e in story_events() if not isinstance(e, StockpileTargetSet)]


def test_a_batch_of_new_events_reads_no_event_ids_in_one_transaction() -> None:
    store = CountingStore()
    applied = _apply(store, _records(EVENTS[:20]))
    assert applied.write is not None and len(applied.write.journal) == 20
    assert (store.transactions, store.ids_read) == (1, [0])


def test_a_repeat_the_fold_would_apply_again_is_found_by_a_second_transaction() -> None:
    """A repeated stockpile target breaks no rule of the fold: it is applied again, the store
    refuses its id, and the batch is applied again, in a new transaction, with its ids read."""
    store = CountingStore()
    targets = [e for e in story_events() if isinstance(e, StockpileTargetSet)]
    _apply(store, _records([*EVENTS[:20], targets[0]]))
    store.transactions, store.ids_read = 0, []
    applied = _apply(store, _records([*EVENTS[20:25], targets[0]], start=21))
    assert applied.write is not None
    assert [r.reason_code for r in applied.write.rejections] == ["REDELIVERED"]
    assert len(applied.write.journal) == 5
    assert (store.transactions, store.ids_read) == (2, [0, 6])


def test_a_repeat_another_rule_refuses_is_found_in_the_same_transaction() -> None:
    """A repeated placement would be refused as DUPLICATE_ORDER without its id read: the
    refusal makes the batch read its ids and fold again, in the same transaction."""
    store = CountingStore()
    _apply(store, _records(EVENTS[:20]))
    placed = next(e for e in EVENTS[:20] if isinstance(e, OrderPlaced))
    store.transactions, store.ids_read = 0, []
    applied = _apply(store, _records([placed, *EVENTS[20:25]], start=20))
    assert applied.write is not None
    assert [r.reason_code for r in applied.write.rejections] == ["REDELIVERED"]
    assert (store.transactions, store.ids_read) == (1, [0, 6])


def test_a_new_event_refused_by_a_rule_is_refused_the_same_after_the_ids_are_read() -> None:
    store = CountingStore()
    _apply(store, _records(EVENTS[:20]))
    placed = next(e for e in EVENTS[:20] if isinstance(e, OrderPlaced))
    again = replace(placed, event_id="00000000-0000-4000-8000-00000000abcd")
    applied = _apply(store, _records([again], start=20))
    assert applied.write is not None
    assert [r.reason_code for r in applied.write.rejections] == ["DUPLICATE_ORDER"]
