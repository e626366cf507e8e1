"""What the consumer core needs from the outside world, as small Protocols and plain values."""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from procledger.domain.errors import REDELIVERED
from procledger.domain.postings import Posting
from procledger.domain.state import LedgerState
from procledger.domain.values import immutable

TopicPartition = tuple[str, int]
# A record's coordinates: topic, partition, offset.
RecordKey = tuple[str, int, int]


@immutable
class KafkaRecord:
    """One consumed record, with the coordinates the journal keeps as provenance."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int | None
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True, slots=True)
class Position:
    """Where a partition stands in the ledger: next offset to apply, head of its hash chain."""

    next_offset: int
    chain_head: bytes


@immutable
class JournalEntry:
    """One row of ledger.journal; JOURNAL_FIELD_COLUMNS names its columns."""

    event_id: str
    event_type: str
    order_id: str | None
    payload: Mapping[str, object]
    writer_fingerprint: str
    schema_version: int
    occurred_at: datetime
    recorded_at: datetime
    topic: str
    partition: int
    offset: int
    kafka_timestamp: datetime | None
    record_sha256: bytes
    prev_hash: bytes
    hash: bytes
    # canonical_payload(payload), when the batch already rendered it for the hash chain: the
    # store writes this text to the JSONB column instead of serialising the payload again.
    payload_text: str | None = None
    # instant_text(occurred_at), when the codec already rendered it into the payload: the
    # store writes this text to the timestamptz column instead of rendering it again.
    occurred_text: str | None = None

    def hashed_fields(self) -> dict[str, Any]:
        """The keyword arguments of domain.chain.entry_hash: every column but the two hashes."""
        return {name: getattr(self, name) for name in HASHED_FIELDS}


# The journal's column for each JournalEntry field, in the table's order: the one mapping of
# that row, for the store that writes it and the audit reader that reads it back. Kafka's
# partition and offset carry a prefix in SQL, where OFFSET is a keyword.
JOURNAL_FIELD_COLUMNS: Mapping[str, str] = {
    "event_id": "event_id",
    "event_type": "event_type",
    "order_id": "order_id",
    "payload": "payload",
    "writer_fingerprint": "writer_fingerprint",
    "schema_version": "schema_version",
    "occurred_at": "occurred_at",
    "recorded_at": "recorded_at",
    "topic": "topic",
    "partition": "kafka_partition",
    "offset": "kafka_offset",
    "kafka_timestamp": "kafka_timestamp",
    "record_sha256": "record_sha256",
    "prev_hash": "prev_hash",
    "hash": "hash",
}
HASHED_FIELDS = tuple(f for f in JOURNAL_FIELD_COLUMNS if f not in {"prev_hash", "hash"})


@immutable
class RejectionEntry:
    topic: str
    partition: int
    offset: int
    kafka_timestamp: datetime | None
    event_id: str | None
    event_type: str | None
    order_id: str | None
    reason_code: str
    error: str
    payload: Mapping[str, object] | None
    raw_value: bytes | None
    record_sha256: bytes
    recorded_at: datetime
    headers: tuple[tuple[str, bytes], ...] = ()
    record_value: bytes | None = None  # the original bytes, for the dead-letter topic


@dataclass(frozen=True, slots=True)
class PositionUpdate:
    """Move a partition from `expected` (what this consumer started from) to `new`."""

    topic: str
    partition: int
    expected_offset: int
    new: Position
    journal_rows: int
    rejected_rows: int


@dataclass(frozen=True, slots=True)
class BatchWrite:
    """Everything one batch changes, written in one database transaction."""

    journal: Sequence[JournalEntry]
    postings: Sequence[Posting]
    rejections: Sequence[RejectionEntry]
    state: LedgerState
    touched_orders: Collection[str]
    touched_targets: Collection[tuple[str, int]]
    positions: Sequence[PositionUpdate]

    @property
    def dead_letters(self) -> list[RejectionEntry]:
        """The rejections that are errors: all but re-deliveries, which are safe by design."""
        return [r for r in self.rejections if r.reason_code != REDELIVERED]

    @property
    def redelivered(self) -> list[RejectionEntry]:
        return [r for r in self.rejections if r.reason_code == REDELIVERED]


class StoreError(Exception):
    """A LedgerStore could not do what was asked; the transaction wrote nothing."""


class StalePosition(StoreError):
    """Another consumer moved this partition on: this one lost it (a zombie) and must stop."""


class StoreUnavailable(StoreError):
    """The store could not be reached or dropped the connection: retried until it is back."""


class StoreConflict(StoreError):
    """A concurrent transaction got in the way: retried a few times, then fatal."""


class EventJournaled(StoreConflict):
    """An event id the batch journals is in the journal already (the journal's unique ids
    refused it): the batch is applied again with its ids looked up (apply_batch)."""


class SealedPast(StoreConflict):
    """A checkpoint was sealed at or after the batch's record time: retried with a new clock
    (at once the first time, then with backoff), and never fatal (a seal is never past the
    database's clock)."""


class SourceUnavailable(Exception):
    """The brokers could not be reached for a poll (down, restarting): poll again later."""


class SourceFailed(Exception):
    """Kafka refused the consumer for good (authorization, a bad setting): polling again
    cannot help, so the consumer stops and says why."""


@dataclass(frozen=True, slots=True)
class StateKeys:
    """What a batch can touch: its orders, its event ids, its (country, calibre) targets."""

    order_ids: Collection[str]
    event_ids: Collection[str]
    target_keys: Collection[tuple[str, int]]

    def without_event_ids(self) -> StateKeys:
        """The first read of apply_batch(): the batch's state, assuming its events new."""
        return StateKeys(self.order_ids, (), self.target_keys)

    def event_ids_only(self) -> StateKeys:
        """The read after a refusal: which of the batch's event ids are journaled already."""
        return StateKeys((), self.event_ids, ())


class LedgerTransaction(Protocol):
    def lock_positions(
        self, partitions: Collection[TopicPartition], recorded_at: datetime | None = None
    ) -> dict[TopicPartition, Position]:
        """Lock the partitions' rows (creating them at offset 0) and return where they stand.

        With `recorded_at` (the batch's record time), raise SealedPast, once the rows are
        locked, if a checkpoint is sealed at or after it: checked this early, only a seal
        committed within this call's round trip can refuse a batch, so retries progress."""
        ...

    def load_state(self, keys: StateKeys) -> LedgerState:
        """The part of the ledger state a batch can touch."""
        ...

    def lock_and_load(
        self,
        partitions: Collection[TopicPartition],
        keys: StateKeys,
        recorded_at: datetime | None = None,
    ) -> tuple[dict[TopicPartition, Position], LedgerState]:
        """lock_positions(), then load_state() as it stands once the lock is held, in one
        round trip where the store can. `keys` may name events the positions show are
        replays: their state is read and goes unused."""
        ...

    def write(self, batch: BatchWrite) -> None:
        """Append and update everything; raise StalePosition if a position moved meanwhile.

        An event id already in the journal is refused: EventJournaled, from here or from the
        transaction's end (the store may learn it only when the rows reach its index)."""
        ...


class LedgerStore(Protocol):
    def transaction(self) -> AbstractContextManager[LedgerTransaction]:
        """A unit of work: committed when the block ends, rolled back on any exception."""
        ...

    def positions(self) -> dict[TopicPartition, Position]:
        """Every partition's position, read without locks (for seeking after an assignment)."""
        ...


class EventSource(Protocol):
    def poll(self, timeout_s: float, max_records: int) -> list[KafkaRecord]:
        """The next records, maybe none; raises SourceUnavailable or SourceFailed."""
        ...

    def assigned(self) -> set[TopicPartition]: ...

    def take_new_assignments(self) -> set[TopicPartition]:
        """Partitions assigned since the last call (the caller seeks them to the ledger)."""
        ...

    def seek(self, partition: TopicPartition, offset: int) -> None: ...

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        """Mirror the ledger's positions to Kafka so standard lag tools work (best effort)."""
        ...

    def end_offsets(self) -> dict[TopicPartition, int]: ...

    def close(self) -> None: ...


class RejectForwarder(Protocol):
    def forward(self, rejections: Sequence[RejectionEntry]) -> None:
        """Send rejected records to the dead-letter topic with headers that say why."""
        ...


class DlqLog(Protocol):
    """The dead-letter outbox's record of which rejections Kafka confirmed on the DLQ topic."""

    def mark_forwarded(self, keys: Collection[RecordKey]) -> None: ...

    def pending(
        self, partitions: Collection[TopicPartition], limit: int
    ) -> tuple[list[RejectionEntry], int]:
        """Up to `limit` unmarked rejections of `partitions`, oldest first, and their count."""
        ...


def iter_partitions(records: Sequence[KafkaRecord]) -> Iterator[TopicPartition]:
    seen: set[TopicPartition] = set()
    for record in records:
        tp = (record.topic, record.partition)
        if tp not in seen:
            seen.add(tp)
            yield tp
