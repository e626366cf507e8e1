"""InMemoryLedgerStore: the LedgerStore port in plain dicts, for unit tests of the consumer loop."""

from __future__ import annotations

import copy
import threading
from collections.abc import Collection, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from procledger.domain.chain import GENESIS, canonical_payload
from procledger.domain.postings import Posting
from procledger.domain.state import LedgerState, Order, StockpileTarget
from procledger.ledger.ports import (
    BatchWrite,
    EventJournaled,
    JournalEntry,
    LedgerTransaction,
    Position,
    RejectionEntry,
    StalePosition,
    StateKeys,
    StoreConflict,
    TopicPartition,
)


@dataclass
class _Tables:
    journal: list[JournalEntry] = field(default_factory=list)
    postings: list[Posting] = field(default_factory=list)
    rejections: list[RejectionEntry] = field(default_factory=list)
    positions: dict[TopicPartition, Position] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    targets: dict[tuple[str, int], StockpileTarget] = field(default_factory=dict)


class _MemoryTransaction:
    def __init__(self, tables: _Tables) -> None:
        self.tables = tables

    def lock_positions(
        self, partitions: Collection[TopicPartition], recorded_at: datetime | None = None
    ) -> dict[TopicPartition, Position]:
        # No checkpoints here, so nothing is ever sealed.
        for tp in partitions:
            self.tables.positions.setdefault(tp, Position(0, GENESIS))
        return {tp: self.tables.positions[tp] for tp in partitions}

    def load_state(self, keys: StateKeys) -> LedgerState:
        order_ids, event_ids, target_keys = keys.order_ids, keys.event_ids, keys.target_keys
        wanted = set(event_ids)
        content = {
            j.event_id: (j.event_type, canonical_payload(j.payload))
            for j in self.tables.journal
            if j.event_id in wanted
        }
        return LedgerState(
            orders={o: self.tables.orders[o] for o in order_ids if o in self.tables.orders},
            targets={k: self.tables.targets[k] for k in target_keys if k in self.tables.targets},
            seen_event_ids=frozenset(content),
            journaled_content=content,
        )

    def lock_and_load(
        self,
        partitions: Collection[TopicPartition],
        keys: StateKeys,
        recorded_at: datetime | None = None,
    ) -> tuple[dict[TopicPartition, Position], LedgerState]:
        return self.lock_positions(partitions, recorded_at), self.load_state(keys)

    def write(self, batch: BatchWrite) -> None:
        t = self.tables
        journaled = {j.event_id for j in t.journal}
        taken = {(j.topic, j.partition, j.offset) for j in t.journal}
        taken |= {(r.topic, r.partition, r.offset) for r in t.rejections}
        for entry in batch.journal:  # the journal's unique constraints, as the DB refuses them
            if entry.event_id in journaled:
                raise EventJournaled(f"event id {entry.event_id} already journaled")
            if (entry.topic, entry.partition, entry.offset) in taken:
                raise StoreConflict(f"{entry.topic}-{entry.partition}@{entry.offset} taken")
        t.journal.extend(batch.journal)
        t.postings.extend(batch.postings)
        t.rejections.extend(batch.rejections)
        for order_id in batch.touched_orders:
            t.orders[order_id] = batch.state.orders[order_id]
        for key in batch.touched_targets:
            t.targets[key] = batch.state.targets[key]
        for update in batch.positions:
            tp = (update.topic, update.partition)
            if t.positions[tp].next_offset != update.expected_offset:
                raise StalePosition(f"{tp} moved on")
            t.positions[tp] = update.new


class InMemoryLedgerStore:
    """Commits by swapping in a copy of the tables, so a failed batch leaves no trace."""

    def __init__(self) -> None:
        self.tables = _Tables()
        self._lock = threading.Lock()

    @contextmanager
    def transaction(self) -> Iterator[LedgerTransaction]:
        with self._lock:
            draft = copy.deepcopy(self.tables)
            yield _MemoryTransaction(draft)
            self.tables = draft

    def positions(self) -> dict[TopicPartition, Position]:
        return dict(self.tables.positions)
