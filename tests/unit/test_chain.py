"""The hash chain's text: one canonical form, one instant text, values that never change."""

from __future__ import annotations

import hashlib
import inspect
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procledger.codec.jsonform import canonical_json, event_to_json_dict
from procledger.domain.chain import (
    GENESIS,
    canonical_payload,
    chain_instant,
    entry_hash,
    epoch_text,
    instant_text,
    row_hash,
)

from .event_samples import PLACED

ROWS = [
    {
        "event_id": "e-1", "event_type": "OrderPlaced", "order_id": "O-1",
        "payload": {"b": "ü", "a": 1, "n": None}, "writer_fingerprint": "c301",
        "schema_version": 2,
        "occurred_at": datetime(2023, 6, 15, 9, 30, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        "recorded_at": datetime(2026, 1, 1, tzinfo=UTC), "topic": "t", "partition": 3,
        "offset": 7, "kafka_timestamp": None, "record_sha256": bytes(range(32)),
    },
    {
        "event_id": "e-2", "event_type": "StockpileTargetSet", "order_id": None,
        "payload": {"country": "DEU"}, "writer_fingerprint": "c302", "schema_version": 1,
        "occurred_at": datetime(999, 1, 2, 3, 4, 5, tzinfo=UTC),
        "recorded_at": datetime(2026, 1, 1, tzinfo=UTC), "topic": "t", "partition": 3,
        "offset": 8, "kafka_timestamp": datetime(5, 1, 1, tzinfo=UTC), "record_sha256": bytes(32),
    },
]  # fmt: skip


def test_chain_values_are_the_ones_existing_journals_hold() -> None:
    # Computed by the chain code every journal so far was written with: a change to the
    # canonical row, the instants' text or the field order fails here before any journal.
    first = entry_hash(GENESIS, **ROWS[0])  # type: ignore[arg-type]
    second = entry_hash(first, **ROWS[1])  # type: ignore[arg-type]
    assert first.hex() == "54b7db0f717f16820230c828f3bac9969c2bf6eb866993b9c821164a5a6b83e8"
    assert second.hex() == "337bc9319c66d25e3f26f0c028e47aa3eaa1313d88fc9c0a01779256fab63362"


# Any text an event or a record can hold: UTF-8, so no lone surrogates (the hashed text is
# UTF-8 bytes, which a lone surrogate has none of).
TEXTS = st.text(st.characters(codec="utf-8"), max_size=40)


@given(
    st.fixed_dictionaries(
        {
            "event_id": TEXTS,
            "event_type": TEXTS,
            "order_id": st.none() | TEXTS,
            "payload_text": TEXTS,
            "writer_fingerprint": TEXTS,
            "schema_version": st.integers(),
            "occurred_text": st.none() | TEXTS,
            "recorded_text": st.none() | TEXTS,
            "topic": TEXTS,
            "partition": st.integers(),
            "offset": st.integers(),
            "kafka_text": st.none() | TEXTS,
            "record_sha256": st.binary(min_size=32, max_size=32),
        }
    ),
    st.binary(min_size=32, max_size=32),
)
def test_row_hash_hashes_the_json_array_of_its_parts(parts: dict[str, Any], prev: bytes) -> None:
    """row_hash writes the array out itself: it must be json.dumps' text, for any string
    (quotes, backslashes, control characters, any script) and any integer."""
    names = [*inspect.signature(row_hash).parameters][1:]  # the parts, in the hashed order
    array = [parts[n].hex() if n == "record_sha256" else parts[n] for n in names]
    text = json.dumps(array, separators=(",", ":"), ensure_ascii=False)
    assert row_hash(prev, **parts) == hashlib.sha256(prev + text.encode()).digest()


def test_instant_text_is_utc_with_microseconds_and_a_z() -> None:
    cet = timezone(timedelta(hours=2))
    assert instant_text(datetime(2023, 6, 15, 11, 30, tzinfo=cet)) == "2023-06-15T09:30:00.000000Z"
    assert instant_text(datetime(999, 1, 2, tzinfo=UTC)) == "0999-01-02T00:00:00.000000Z"


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),
        max_value=datetime(9998, 12, 30),
        timezones=st.sampled_from(
            [
                UTC,
                timezone(timedelta(0)),
                timezone(timedelta(hours=2)),
                timezone(-timedelta(hours=5, minutes=30)),
            ]
        ),
    )
)
def test_instant_text_is_one_text_per_instant_whatever_its_zone(value: datetime) -> None:
    utc = value.astimezone(UTC)
    expected = (
        f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T"
        f"{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}.{utc.microsecond:06d}Z"
    )
    assert instant_text(value) == expected


@given(st.datetimes(timezones=st.just(UTC)))
def test_epoch_text_is_instant_text_of_the_same_instant(value: datetime) -> None:
    since = value - datetime(1970, 1, 1, tzinfo=UTC)
    assert epoch_text(since) == instant_text(value)
    whole = value.replace(microsecond=0)
    assert epoch_text(whole - datetime(1970, 1, 1, tzinfo=UTC)) == instant_text(whole)


def test_a_naive_instant_is_refused_not_given_a_zone() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        instant_text(datetime(2023, 6, 15, 9, 30))
    with pytest.raises(ValueError, match="naive datetime"):
        chain_instant(datetime(2023, 6, 15, 9, 30))


def test_the_chain_keeps_early_years_unpadded_as_it_always_hashed_them() -> None:
    assert chain_instant(None) is None
    assert chain_instant(datetime(5, 1, 1, tzinfo=UTC)) == "5-01-01T00:00:00.000000Z"
    assert chain_instant(datetime(999, 1, 1, tzinfo=UTC)) == "999-01-01T00:00:00.000000Z"
    assert chain_instant(datetime(1000, 1, 1, tzinfo=UTC)) == "1000-01-01T00:00:00.000000Z"


@given(st.datetimes(timezones=st.just(UTC)))
def test_chain_instant_is_strftime_for_every_year(value: datetime) -> None:
    # The chain's text was strftime("%Y-%m-%dT%H:%M:%S.%fZ") in UTC; it must stay so.
    assert chain_instant(value) == value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_one_canonical_form_for_events_and_journal_payloads() -> None:
    text = canonical_payload({"b": "ü", "a": [1, None]})
    assert text == '{"a":[1,null],"b":"ü"}'
    payload = event_to_json_dict(PLACED)
    reordered = dict(reversed(list(payload.items())))
    assert canonical_json(PLACED).decode("utf-8") == canonical_payload(reordered)
