"""build_batch's journal rows: hashed as entry_hash() hashes them, whatever the instants."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from procledger.codec.avro import encode
from procledger.domain.chain import GENESIS, entry_hash, instant_text
from procledger.domain.ledger import empty_state
from procledger.ledger.batch import Decoded, build_batch, decode_record
from procledger.ledger.ports import KafkaRecord, Position

from .event_samples import PLACED

RECORDED = datetime(2026, 1, 1, 0, 0, 0, 654321, tzinfo=UTC)


@given(
    occurred=st.datetimes(timezones=st.just(UTC)),
    timestamp_ms=st.one_of(st.none(), st.integers(-1, 253_402_300_799_999)),
)
def test_a_journal_row_is_hashed_as_entry_hash_hashes_it(
    occurred: datetime, timestamp_ms: int | None
) -> None:
    # The batch hashes occurred_at from the text the codec put in the payload, not from the
    # instant: the chain must still be what entry_hash() (and so `audit verify`) computes.
    value = encode(replace(PLACED, occurred_at=occurred))
    record = KafkaRecord("orders", 0, 7, timestamp_ms, None, value)
    item = decode_record(record)
    assert isinstance(item, Decoded)
    write = build_batch([item], empty_state(), {("orders", 0): Position(7, GENESIS)}, RECORDED)

    [row] = write.journal
    assert row.occurred_at == occurred
    assert row.occurred_text == instant_text(occurred)
    assert row.hash == entry_hash(GENESIS, **row.hashed_fields())
    assert write.positions[0].new == Position(8, row.hash)
