"""The ledger's unit of work: one polled batch applied in one transaction, or not at all."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

from procledger.domain.ledger import Applied, fold
from procledger.domain.state import LedgerState
from procledger.ledger.batch import Decoded, Item, RefusedRecord, build_batch, state_keys, trim
from procledger.ledger.ports import (
    BatchWrite,
    EventJournaled,
    LedgerStore,
    Position,
    TopicPartition,
)


@dataclass(frozen=True, slots=True)
class AppliedBatch:
    """What one transaction wrote (None: every record was a replay), and the partitions whose
    records start past the ledger's position (the caller seeks them back)."""

    write: BatchWrite | None
    gaps: dict[TopicPartition, int]


def apply_batch(
    store: LedgerStore, items: Sequence[Item], partitions: Collection[TopicPartition], now: datetime
) -> AppliedBatch:
    """Lock the positions and load the state, trim replays, fold, refuse what no column holds,
    write.

    Everything happens inside one transaction: a failure anywhere leaves the ledger as it was,
    and a position moved by another consumer (fencing) raises StalePosition from the write.

    The journal's unique event ids are what proves an event new. So a batch is first applied
    without looking its event ids up (5.8 µs of PostgreSQL's statement time per event, of
    about 40, for ids that are nearly always new: stages.md). An event journaled already then
    either is applied again and refused by the store (EventJournaled), or is refused by
    another rule of the fold (its order is placed already, say). In both cases the batch is
    applied again with its ids looked up, which tells each repeat for what it is: a
    re-delivery or a conflict.
    """
    try:
        return _apply(store, items, partitions, now, look_up_ids=False)
    except EventJournaled:
        return _apply(store, items, partitions, now, look_up_ids=True)


def _apply(
    store: LedgerStore,
    items: Sequence[Item],
    partitions: Collection[TopicPartition],
    now: datetime,
    *,
    look_up_ids: bool,
) -> AppliedBatch:
    keys = state_keys(items)
    with store.transaction() as tx:
        # The state of every item, replays too: read with the lock, it costs no round trip.
        read = keys if look_up_ids else keys.without_event_ids()
        positions, state = tx.lock_and_load(partitions, read, now)
        trimmed = trim(items, positions)
        if not trimmed.items:
            return AppliedBatch(None, trimmed.gaps)
        batch = _build(trimmed.items, state, positions, now)
        if batch.rejections and not look_up_ids:
            # A rule refused a record: a repeat of a journaled event may be behind it.
            journaled = tx.load_state(keys.event_ids_only())
            state = replace(
                state,
                seen_event_ids=journaled.seen_event_ids,
                journaled_content=journaled.journaled_content,
            )
            batch = _build(trimmed.items, state, positions, now)
        tx.write(batch)
    return AppliedBatch(batch, trimmed.gaps)


def _build(
    items: Sequence[Item],
    state: LedgerState,
    positions: Mapping[TopicPartition, Position],
    now: datetime,
) -> BatchWrite:
    batch = build_batch(items, state, positions, now)
    if not fits_ledger(batch):  # an amount no column can hold: reject it, never crash
        batch = build_batch(refuse_unstorable(items, state), state, positions, now)
    return batch


# The ledger's numeric columns: postings are numeric(20,2), order figures numeric(30,2). A
# record can pass every field rule (a long quantity, decimal(18,4) price and (18,8) rate) and
# still fold into an amount no column holds; PostgreSQL then fails the whole batch, on every
# retry and restart, and the partition stops. Such an event is rejected instead.
POSTING_LIMIT = Decimal(10) ** 18
ORDER_LIMIT = Decimal(10) ** 28
ORDER_AMOUNTS = ("value", "value_usd", "delivered_value", "delivered_value_usd", "paid", "paid_usd")


def _outcome_fits(outcome: Applied) -> bool:
    for p in outcome.postings:
        if abs(p.amount) >= POSTING_LIMIT or abs(p.amount_usd) >= POSTING_LIMIT:
            return False
    order = outcome.order
    return order is None or all(abs(getattr(order, f)) < ORDER_LIMIT for f in ORDER_AMOUNTS)


def fits_ledger(batch: BatchWrite) -> bool:
    """True if every amount of the batch fits its column (checked on each batch: cheap)."""
    for p in batch.postings:
        if abs(p.amount) >= POSTING_LIMIT or abs(p.amount_usd) >= POSTING_LIMIT:
            return False
    return all(
        abs(getattr(batch.state.orders[o], f)) < ORDER_LIMIT
        for o in batch.touched_orders
        for f in ORDER_AMOUNTS
    )


def refuse_unstorable(items: Sequence[Item], state: LedgerState) -> list[Item]:
    """`items` with each event whose amounts the ledger cannot store made an INVALID_EVENT.

    Only after fits_ledger() failed (rare). One event at a time, then fold again: refusing
    it can change what the events after it do (an order never placed makes them unknown).
    """
    current = list(items)
    while True:
        decoded = [i for i in current if isinstance(i, Decoded)]
        result = fold(state, [d.decoded.event for d in decoded])
        bad = next(
            (
                d
                for d, (_, outcome) in zip(decoded, result.outcomes, strict=True)
                if isinstance(outcome, Applied) and not _outcome_fits(outcome)
            ),
            None,
        )
        if bad is None:
            return current
        refused = RefusedRecord(
            record=bad.record,
            reason_code="INVALID_EVENT",
            error="amounts beyond the ledger's range "
            "(postings numeric(20,2), orders numeric(30,2))",
            event=bad.decoded.event,
            record_sha256=bad.record_sha256,
        )
        current = [refused if i is bad else i for i in current]
