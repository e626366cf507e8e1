"""Turning a polled batch into one BatchWrite: decode once, trim replays, fold, chain."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import cast

from procledger.codec.avro import DecodedEvent, decode
from procledger.codec.errors import CodecError
from procledger.codec.jsonform import event_to_json_dict
from procledger.domain.chain import canonical_payload, chain_instant, chain_text, row_hash
from procledger.domain.errors import EVENT_ID_CONFLICT, REDELIVERED, DuplicateEvent
from procledger.domain.events import Event, StockpileTargetSet, event_type
from procledger.domain.ledger import Applied, Outcome, Rejected, fold
from procledger.domain.postings import Posting
from procledger.domain.state import LedgerState
from procledger.domain.validation import validate
from procledger.domain.values import immutable
from procledger.ledger.ports import (
    BatchWrite,
    JournalEntry,
    KafkaRecord,
    Position,
    PositionUpdate,
    RejectionEntry,
    StateKeys,
    TopicPartition,
)


@immutable
class Decoded:
    """A record whose bytes became a field-valid event."""

    record: KafkaRecord
    decoded: DecodedEvent  # its payload is the event's JSON form, as the journal keeps it
    record_sha256: bytes


@immutable
class RefusedRecord:
    """A record refused before the fold: bad bytes, an unknown schema, or a field that breaks
    a rule (INVALID_EVENT; such a record decoded, so `event` holds it)."""

    record: KafkaRecord
    reason_code: str
    error: str
    event: Event | None
    record_sha256: bytes


Item = Decoded | RefusedRecord


def kafka_time(record: KafkaRecord) -> datetime | None:
    if record.timestamp_ms is None or record.timestamp_ms < 0:
        return None
    return datetime.fromtimestamp(record.timestamp_ms / 1000, tz=UTC)


def decode_record(record: KafkaRecord) -> Item:
    """Decode and validate one record; every failure names its reason code."""
    digest = hashlib.sha256(record.value or b"").digest()
    if not record.value:
        return RefusedRecord(
            record=record,
            reason_code="UNDECODABLE",
            error="record has no value",
            event=None,
            record_sha256=digest,
        )
    try:
        decoded = decode(record.value)
    except CodecError as err:
        return RefusedRecord(
            record=record, reason_code=err.code, error=str(err), event=None, record_sha256=digest
        )
    problems = validate(decoded.event)
    if problems:
        error = "; ".join(f"{p.field}: {p.reason}" for p in problems)
        return RefusedRecord(
            record=record,
            reason_code="INVALID_EVENT",
            error=error,
            event=decoded.event,
            record_sha256=digest,
        )
    return Decoded(record, decoded, digest)


def order_id_of(event: Event | None) -> str | None:
    if event is None or isinstance(event, StockpileTargetSet):
        return None
    return event.order_id


@dataclass(frozen=True, slots=True)
class Trimmed:
    """The items still to apply, and partitions whose records start past the ledger's position."""

    items: list[Item]
    gaps: dict[TopicPartition, int]


def trim(items: Sequence[Item], positions: Mapping[TopicPartition, Position]) -> Trimmed:
    """Drop records the ledger already holds (replays); report a partition that skips ahead."""
    expected = {tp: pos.next_offset for tp, pos in positions.items()}
    kept: list[Item] = []
    gaps: dict[TopicPartition, int] = {}
    for item in items:
        rec = item.record
        tp = (rec.topic, rec.partition)
        if tp in gaps or rec.offset < expected[tp]:
            continue
        if rec.offset > expected[tp]:
            # Never skip a record to make progress: the caller seeks back and polls again.
            gaps[tp] = positions[tp].next_offset
            continue
        kept.append(item)
        expected[tp] = rec.offset + 1
    return Trimmed([i for i in kept if (i.record.topic, i.record.partition) not in gaps], gaps)


def state_keys(items: Sequence[Item]) -> StateKeys:
    """The orders, event ids and stockpile keys a batch can touch."""
    orders: set[str] = set()
    events: set[str] = set()
    targets: set[tuple[str, int]] = set()
    for item in items:
        if isinstance(item, Decoded):
            event = item.decoded.event
            events.add(event.event_id)
            if isinstance(event, StockpileTargetSet):
                targets.add((event.country, event.caliber_mm))
            else:
                orders.add(event.order_id)
    return StateKeys(orders, events, targets)


def build_batch(
    items: Sequence[Item],
    state: LedgerState,
    positions: Mapping[TopicPartition, Position],
    recorded_at: datetime,
) -> BatchWrite:
    """Fold the decoded events and lay out every row the batch writes, chains included."""
    decoded = [i for i in items if type(i) is Decoded]
    result = fold(state, [d.decoded.event for d in decoded])
    # fold() returns one outcome per event in input order: walk them in step with `items`.
    outcomes = iter(result.outcomes)

    chain = {tp: pos.chain_head for tp, pos in positions.items()}
    counts: dict[TopicPartition, list[int]] = {}
    journal: list[JournalEntry] = []
    postings: list[Posting] = []
    rejections: list[RejectionEntry] = []
    touched_orders: set[str] = set()
    touched_targets: set[tuple[str, int]] = set()
    last_offset: dict[TopicPartition, int] = {}
    # Every row of a batch shares recorded_at, and records published together share their
    # Kafka millisecond: render each instant once per batch, not once per row.
    recorded = (recorded_at, chain_instant(recorded_at))
    stamps: dict[int | None, tuple[datetime | None, str | None]] = {}

    for item in items:
        rec = item.record
        tp = (rec.topic, rec.partition)
        last_offset[tp] = rec.offset
        tally = counts.get(tp) or counts.setdefault(tp, [0, 0])  # [journaled, rejected]
        stamp = stamps.get(rec.timestamp_ms)
        if stamp is None:
            ts = kafka_time(rec)
            stamp = stamps[rec.timestamp_ms] = (ts, chain_instant(ts))
        ts = stamp[0]
        if type(item) is RefusedRecord:
            rejections.append(_rejection(item, recorded_at))
            tally[1] += 1
            continue
        assert type(item) is Decoded  # for the type checker: Item is Decoded | RefusedRecord
        outcome = next(outcomes)[1]
        event = item.decoded.event
        if type(outcome) is not Applied:
            # A repeated id is refined by content: a re-delivery or a conflict.
            rejections.append(
                _refused(item, _refine(outcome, item, state, journal), ts, recorded_at)
            )
            tally[1] += 1
            continue
        entry = _chained(item, chain[tp], recorded, stamp)
        journal.append(entry)
        chain[tp] = entry.hash
        postings.extend(outcome.postings)
        tally[0] += 1
        if isinstance(event, StockpileTargetSet):
            touched_targets.add((event.country, event.caliber_mm))
        else:
            touched_orders.add(event.order_id)

    updates = [
        PositionUpdate(
            tp[0], tp[1], positions[tp].next_offset, Position(last + 1, chain[tp]), *counts[tp]
        )
        for tp, last in sorted(last_offset.items())
    ]
    return BatchWrite(
        journal=journal,
        postings=postings,
        rejections=rejections,
        state=result.state,
        touched_orders=touched_orders,
        touched_targets={k for k in touched_targets if k in result.state.targets},
        positions=updates,
    )


def _chained(
    item: Decoded,
    prev: bytes,
    recorded: tuple[datetime, str | None],
    stamp: tuple[datetime | None, str | None],
) -> JournalEntry:
    """The journal row of an applied event, chained to `prev`; `recorded` and `stamp` are the
    record time and the Kafka timestamp, each with its chain text, rendered once per batch."""
    rec = item.record
    meta = item.decoded
    event = meta.event
    kind = type(event).__name__  # event_type(), inlined on the hot path
    order_id = None if isinstance(event, StockpileTargetSet) else event.order_id
    payload_text = canonical_payload(meta.payload)
    # The codec renders the payload's occurred_at as instant_text(event.occurred_at): the
    # chain and the COPY row take that text rather than render the instant twice more.
    occurred_text = cast(str, meta.payload["occurred_at"])
    digest = row_hash(
        prev,
        event_id=event.event_id,
        event_type=kind,
        order_id=order_id,
        payload_text=payload_text,
        writer_fingerprint=meta.fingerprint,
        schema_version=meta.schema_version,
        occurred_text=chain_text(occurred_text),
        recorded_text=recorded[1],
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        kafka_text=stamp[1],
        record_sha256=item.record_sha256,
    )
    return JournalEntry(
        event_id=event.event_id,
        event_type=kind,
        order_id=order_id,
        payload=meta.payload,
        writer_fingerprint=meta.fingerprint,
        schema_version=meta.schema_version,
        occurred_at=event.occurred_at,
        recorded_at=recorded[0],
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        kafka_timestamp=stamp[0],
        record_sha256=item.record_sha256,
        prev_hash=prev,
        hash=digest,
        payload_text=payload_text,
        occurred_text=occurred_text,
    )


def _refine(
    outcome: Outcome, item: Decoded, state: LedgerState, journal: Sequence[JournalEntry]
) -> Outcome:
    """An id already applied: REDELIVERED if this record repeats that event, else a conflict.

    "The same event" means the same event type and the same canonical payload (every field of
    the current schema, decimals at the schema's scale, instants in UTC), whatever the Kafka
    coordinates, timestamp, key, headers or writer schema version. The first copy is in the
    journal (state.journaled_content) or earlier in this batch (rare: searched only here).
    """
    if not isinstance(outcome, Rejected) or outcome.code != DuplicateEvent.code:
        return outcome
    event = item.decoded.event
    kind = type(event).__name__
    event_id = event.event_id
    first = state.journaled_content.get(event_id)
    if first is None:
        entry = next(j for j in reversed(journal) if j.event_id == event_id)
        first = (entry.event_type, entry.payload_text or canonical_payload(entry.payload))
    if first == (kind, canonical_payload(item.decoded.payload)):
        return Rejected(
            REDELIVERED,
            f"event {event_id} is already in the journal with the same content: "
            "a re-delivery, acknowledged and not applied again",
        )
    what = "type" if first[0] != kind else "payload"
    return Rejected(
        EVENT_ID_CONFLICT,
        f"event {event_id} is already in the journal as a {first[0]} with a different {what}:"
        " one event id must name one event",
    )


def _refused(
    item: Decoded, outcome: Outcome, ts: datetime | None, recorded_at: datetime
) -> RejectionEntry:
    """The rejection row of a decoded event that broke a ledger rule."""
    assert type(outcome) is Rejected
    rec = item.record
    event = item.decoded.event
    return RejectionEntry(
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        kafka_timestamp=ts,
        event_id=event.event_id,
        event_type=event_type(event),
        order_id=order_id_of(event),
        reason_code=outcome.code,
        error=outcome.message,
        payload=item.decoded.payload,
        raw_value=None,
        record_sha256=item.record_sha256,
        recorded_at=recorded_at,
        headers=rec.headers,
        record_value=rec.value,
    )


def storable(text: str | None) -> str | None:
    """PostgreSQL text holds neither NUL nor unpaired surrogates: escape them visibly."""
    if text is None:
        return None
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")


def _rejection(item: RefusedRecord, recorded_at: datetime) -> RejectionEntry:
    rec = item.record
    event = item.event
    payload = event_to_json_dict(event) if event is not None else None
    if payload is not None and "\\u0000" in json.dumps(payload):
        # JSONB refuses NUL characters: keep the exact bytes instead of the decoded payload.
        payload = None
    return RejectionEntry(
        topic=rec.topic,
        partition=rec.partition,
        offset=rec.offset,
        kafka_timestamp=kafka_time(rec),
        event_id=storable(event.event_id) if event else None,
        event_type=event_type(event) if event else None,
        order_id=storable(order_id_of(event)),
        reason_code=item.reason_code,
        error=storable(item.error) or "",
        payload=payload,
        raw_value=None if payload is not None else rec.value,
        record_sha256=item.record_sha256,
        recorded_at=recorded_at,
        headers=rec.headers,
        record_value=rec.value,
    )
