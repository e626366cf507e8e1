"""Property tests of the Avro codec: exact round trips, no rounding, only CodecError on junk."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from procledger.codec.avro import canonical_json, decode, encode
from procledger.codec.errors import CodecError, EncodeError
from procledger.codec.schemas import default_registry
from procledger.domain.events import (
    DeliveryRecorded,
    Event,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    PaymentRecorded,
    Purpose,
    StockpileTargetSet,
)
from tests.unit.event_samples import PAID, PLACED, SAMPLES

LONGS = st.integers(min_value=-(2**63), max_value=2**63 - 1)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
INSTANTS = st.datetimes(
    min_value=datetime(1970, 1, 2),
    max_value=datetime(9998, 12, 31),
    timezones=st.sampled_from([UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=9))]),
)


def fitting(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    """Any decimal that fits decimal(precision, scale), from the extremes down to zero."""
    bound = 10**precision - 1
    unscaled = st.one_of(
        st.integers(-bound, bound), st.sampled_from([bound, -bound, 0, 1, -1, 10**scale])
    )
    return unscaled.map(lambda n: Decimal(n).scaleb(-scale))


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


PRICES = fitting(18, 4)
AMOUNTS = fitting(18, 2)
RATES = fitting(18, 8)
COMMON = {"event_id": TEXT, "occurred_at": INSTANTS}

EVENTS: st.SearchStrategy[Event] = st.one_of(
    st.builds(
        OrderPlaced,
        **COMMON,
        order_id=TEXT,
        buyer=TEXT,
        supplier=TEXT,
        item_description=TEXT,
        caliber_mm=optional(LONGS),
        quantity=LONGS,
        unit_price=PRICES,
        currency=TEXT,
        usd_rate=RATES,
        purpose=st.sampled_from(Purpose),
        destination=optional(TEXT),
        supplier_country=optional(TEXT),
        contract_ref=optional(TEXT),
        nsn=optional(TEXT),
        expected_delivery=optional(INSTANTS),
    ),
    st.builds(
        OrderAmended,
        **COMMON,
        order_id=TEXT,
        quantity=optional(LONGS),
        unit_price=optional(PRICES),
        reason=TEXT,
    ),
    st.builds(OrderCancelled, **COMMON, order_id=TEXT, reason=TEXT),
    st.builds(
        DeliveryRecorded,
        **COMMON,
        order_id=TEXT,
        delivery_id=TEXT,
        quantity=LONGS,
        destination=optional(TEXT),
    ),
    st.builds(
        PaymentRecorded,
        **COMMON,
        order_id=TEXT,
        payment_id=TEXT,
        amount=AMOUNTS,
        currency=TEXT,
        usd_rate=RATES,
    ),
    st.builds(
        StockpileTargetSet,
        **COMMON,
        country=TEXT,
        caliber_mm=LONGS,
        target_quantity=LONGS,
        authority=TEXT,
    ),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(EVENTS)
def test_every_encodable_event_round_trips_exactly(event: Event) -> None:
    decoded = decode(encode(event))
    assert decoded.event == event
    assert canonical_json(decoded.event) == canonical_json(event)


def fits(value: Decimal, precision: int, scale: int) -> bool:
    """Independent of the codec: integer arithmetic on the digits."""
    _, digits, exponent = value.as_tuple()
    assert isinstance(exponent, int)
    coefficient = int("".join(map(str, digits)) or "0")
    if exponent + scale >= 0:
        unscaled = coefficient * 10 ** (exponent + scale)
    else:
        unscaled, rest = divmod(coefficient, 10 ** -(exponent + scale))
        if rest:
            return False
    return bool(unscaled < 10**precision)


ANY_DECIMALS = st.builds(
    lambda sign, coefficient, exponent: Decimal(
        (sign, tuple(map(int, str(coefficient))), exponent)
    ),
    st.integers(0, 1),
    st.integers(0, 10**22),
    st.integers(-12, 8),
)


@pytest.mark.parametrize(
    ("field", "precision", "scale", "base"),
    [("unit_price", 18, 4, PLACED), ("usd_rate", 18, 8, PLACED), ("amount", 18, 2, PAID)],
)
@settings(max_examples=300)
@given(value=ANY_DECIMALS)
@example(value=Decimal("99999999999999.9999"))
@example(value=Decimal("-99999999999999.9999"))
@example(value=Decimal("100000000000000"))
@example(value=Decimal("0.00000001"))
@example(value=Decimal("0.000000001"))
@example(value=Decimal("0"))
@example(value=Decimal("-0"))
@example(value=Decimal("0E-20"))
@example(value=Decimal("1.000000000000"))
@example(value=Decimal("9999999999.99999999"))
def test_decimals_are_kept_exactly_or_refused_never_rounded(
    field: str, precision: int, scale: int, base: Event, value: Decimal
) -> None:
    event = dataclasses.replace(base, **{field: value})  # type: ignore[arg-type]
    if not fits(value, precision, scale):
        with pytest.raises(EncodeError, match=field):
            encode(event)
        return
    got = getattr(decode(encode(event)).event, field)
    assert got == value
    assert got.as_tuple().exponent == -scale
    assert canonical_json(event) == canonical_json(decode(encode(event)).event)


@settings(max_examples=1000)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_codec_errors(data: bytes) -> None:
    with contextlib.suppress(CodecError):
        decode(data)


HEADERS = [v.header for v in default_registry()]


@settings(max_examples=1500)
@given(st.sampled_from(HEADERS), st.binary(max_size=400))
def test_random_bodies_behind_a_known_header_raise_only_codec_errors(
    header: bytes, body: bytes
) -> None:
    with contextlib.suppress(CodecError):
        decode(header + body)


@settings(max_examples=1500)
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_mutated_records_raise_only_codec_errors(name: str, data: st.DataObject) -> None:
    raw = bytearray(encode(SAMPLES[name]))
    for _ in range(data.draw(st.integers(1, 4))):
        position = data.draw(st.integers(10, len(raw) - 1))
        raw[position] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, 3))
    with contextlib.suppress(CodecError):
        decode(bytes(raw[: len(raw) - cut]))
