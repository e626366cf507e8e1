"""The lean read and write accept and refuse exactly what the full ones do, byte for byte,
and the lean read's JSON form is the one jsonform writes."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procledger.codec.avro import AvroCodec, encode
from procledger.codec.errors import CodecError, EncodeError, MalformedBody
from procledger.codec.jsonform import decimal_text, event_to_json_dict
from procledger.codec.lean import decimal_text as lean_decimal_text
from procledger.codec.lean import is_canonical, lean_plan, read_body
from procledger.codec.schemas import default_registry
from procledger.domain.events import Event
from tests.unit.event_samples import (
    AMENDED,
    AMENDED_PRICE_ONLY,
    CANCELLED,
    DELIVERED,
    PAID,
    PLACED,
    PLACED_MINIMAL,
    TARGET,
)
from tests.unit.test_codec_properties import ANY_DECIMALS, EVENTS

LEAN = AvroCodec(default_registry())
FULL = AvroCodec(default_registry(), lean=False)
HEADER = 10


def _outcome(codec: AvroCodec, data: bytes) -> Any:
    """What a read gives: the event field by field with each value's type and exact text
    (a Decimal's exponent, an instant's zone) and its JSON form in field order, or the class
    of the refusal."""
    try:
        decoded = codec.decode(data)
    except CodecError as err:
        return type(err).__name__
    event = decoded.event
    fields = tuple(
        (f.name, type(getattr(event, f.name)).__name__, str(getattr(event, f.name)))
        for f in dataclasses.fields(event)
    )
    payload = list(decoded.payload.items())
    assert payload == list(event_to_json_dict(event).items())
    return decoded.event_type, decoded.fingerprint, decoded.schema_version, fields, payload


def _same(data: bytes) -> Any:
    lean = _outcome(LEAN, data)
    assert lean == _outcome(FULL, data)
    return lean


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_both_reads_give_the_same_event(event: Event) -> None:
    assert not isinstance(_same(encode(event)), str)


@settings(max_examples=1500, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS, st.data())
def test_both_reads_agree_on_any_damaged_body(event: Event, data: st.DataObject) -> None:
    body = bytearray(encode(event))
    for _ in range(data.draw(st.integers(1, 3))):
        at = data.draw(st.integers(HEADER, max(HEADER, len(body) - 1)))
        kind = data.draw(st.sampled_from(["replace", "insert", "delete"]))
        byte = data.draw(st.integers(0, 255))
        if kind == "replace" and at < len(body):
            body[at] = byte
        elif kind == "insert":
            body.insert(at, byte)
        elif at < len(body):
            del body[at]
    _same(bytes(body))


def _replace_decimal(data: bytes, old: bytes, new: bytes) -> bytes:
    """Swap one decimal's bytes (with their length prefix) for others."""
    length = bytes([len(old) * 2])  # zig-zag of a small positive length
    assert data.count(length + old) == 1
    return data.replace(length + old, bytes([len(new) * 2]) + new)


@pytest.mark.parametrize(
    "forged",
    [
        b"\x00\x00\x01\x86\xa0",  # 100000 with a redundant sign byte
        b"\xff\x80",  # -128 as fastavro writes it: canonical, decodes
        b"\x80",  # -128 in minimal two's complement, which fastavro never writes
        b"",  # no bytes at all: zero would be 00
        b"\x7f" + b"\xff" * 9,  # beyond decimal(18,2)
    ],
)
def test_both_reads_agree_on_forged_decimal_bytes(forged: bytes) -> None:
    data = encode(dataclasses.replace(PAID, amount=Decimal("1000.00")))
    _same(_replace_decimal(data, b"\x01\x86\xa0", forged))


def test_a_redundant_sign_byte_is_refused_as_not_canonical() -> None:
    data = encode(dataclasses.replace(PAID, amount=Decimal("1000.00")))
    forged = _replace_decimal(data, b"\x01\x86\xa0", b"\x00\x01\x86\xa0")
    with pytest.raises(MalformedBody, match="not canonical"):
        LEAN.decode(forged)


def test_an_instant_beyond_datetimes_range_is_malformed_on_both_reads() -> None:
    data = encode(PLACED)
    micros = int((PLACED.occurred_at.timestamp()) * 1_000_000)
    zigzag = _varint(micros << 1)
    assert data.count(zigzag) >= 1
    forged = data.replace(zigzag, _varint((2**62) << 1), 1)
    assert _same(forged) == "MalformedBody"


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_every_written_body_is_proven_canonical_by_counting(event: Event) -> None:
    """The counted check is the one that runs: it proves what the writer writes, with no
    re-encode (a count that always fell back would pass every other test here), unless a
    long reaches 2**62 in magnitude, where a varint could have wrapped."""
    plan = lean_plan(default_registry().current(type(event).__name__))
    assert plan.sizes is not None
    data = encode(event)
    record = read_body(plan.plain, data, HEADER, plan.label)
    longs = [record[name] for name, kind, _, _ in plan.sizes if kind == "long"]
    countable = all(v is None or abs(v) < 2**62 for v in longs)
    assert is_canonical(plan.sizes, record, data, HEADER) is countable


@settings(max_examples=500)
@given(st.integers(-(10**18) + 1, 10**18 - 1), st.integers(0, 12))
def test_a_decimal_read_lean_has_the_json_forms_text(unscaled: int, scale: int) -> None:
    """Built from the unscaled digits, the text is jsonform's for the Decimal the read gives."""
    value = Decimal(unscaled).scaleb(-scale)
    assert lean_decimal_text(unscaled, scale) == decimal_text(value, Decimal(1).scaleb(-scale))


# Bytes a forger would try at any place: a varint's small values, negative ones (-1, -2),
# continuation bytes that make it over-long, and the extremes.
_FORGED_BYTES = (0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x7E, 0x7F, 0x80, 0x81, 0xFE, 0xFF)


@pytest.mark.parametrize(
    "event",
    [PLACED, PLACED_MINIMAL, AMENDED, AMENDED_PRICE_ONLY, CANCELLED, DELIVERED, PAID, TARGET],
    ids=lambda e: type(e).__name__,
)
def test_both_reads_agree_on_every_one_byte_forgery(event: Event) -> None:
    """Every place in the body, each byte above put there or put before it: the lean read's
    counted check accepts exactly the bodies the full read's re-encode does."""
    body = encode(event)
    for at in range(HEADER, len(body)):
        for byte in _FORGED_BYTES:
            _same(body[:at] + bytes([byte]) + body[at + 1 :])
            _same(body[:at] + bytes([byte]) + body[at:])


def test_a_negative_union_index_is_not_canonical() -> None:
    """fastavro reads a union index of -1 (one byte, 01) as the last branch, the byte for
    the same length as 1 (02): only comparing the index itself tells them apart."""
    data = encode(dataclasses.replace(PLACED, caliber_mm=155))
    canonical = bytes([2]) + _varint(155 << 1)  # branch 1 (long), then 155
    assert data.count(canonical) == 1
    forged = data.replace(canonical, bytes([1]) + _varint(155 << 1))
    assert _same(forged) == "MalformedBody"


def test_a_wrapped_ten_byte_long_is_not_canonical() -> None:
    """A long's tenth byte with bits past the 64th: fastavro drops them, so the forgery has
    the length and the value of the canonical bytes; only a re-encode tells them apart."""
    quantity = 2**62 + 1
    data = encode(dataclasses.replace(PLACED, quantity=quantity))
    canonical = _varint(quantity << 1)
    assert len(canonical) == 10 and canonical[-1] == 0x01 and data.count(canonical) == 1
    forged = data.replace(canonical, canonical[:-1] + bytes([0x03]))
    assert _same(forged) == "MalformedBody"


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(0x80 | (value & 0x7F))
        value >>= 7
    out.append(value)
    return bytes(out)


def _written(codec: AvroCodec, event: Event, version: int | None) -> bytes | str:
    """The bytes a write gives, or its refusal's message."""
    try:
        return codec.encode(event, version=version)
    except EncodeError as err:
        return f"EncodeError: {err}"


def _same_write(event: Event) -> bytes | str:
    """Both writes agree for the current schema and every older version of the event."""
    versions = [v.version for v in default_registry().versions(type(event).__name__)]
    for version in [None, *versions]:
        written = _written(LEAN, event, version)
        assert written == _written(FULL, event, version), version
    return _written(LEAN, event, None)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_both_writes_give_the_same_bytes(event: Event) -> None:
    assert isinstance(_same_write(event), bytes)


@pytest.mark.parametrize("field", ["unit_price", "usd_rate"])
@settings(max_examples=300)
@given(value=ANY_DECIMALS)
def test_both_writes_agree_on_any_decimal(field: str, value: Decimal) -> None:
    _same_write(dataclasses.replace(PLACED, **{field: value}))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "amount",
    ["-1.28", "-1.27", "1.28", "-0.00", "0", "-99999999999999.99", "-0.01", "327.68", "-327.68"],
)
def test_both_writes_agree_at_twos_complement_edges(amount: str) -> None:
    assert isinstance(_same_write(dataclasses.replace(PAID, amount=Decimal(amount))), bytes)


@settings(max_examples=300)
@given(
    st.datetimes(
        min_value=datetime(1, 1, 1),
        max_value=datetime(9999, 12, 30),
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5, minutes=-30))]),
    )
)
def test_both_writes_agree_on_instants_before_and_after_the_epoch(instant: datetime) -> None:
    _same_write(dataclasses.replace(PLACED, occurred_at=instant))
