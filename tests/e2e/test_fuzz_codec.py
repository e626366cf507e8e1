"""Hypothesis on the codec: any bytes decode to an event or a CodecError, never a crash."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procledger.codec.avro import decode, encode
from procledger.codec.errors import CodecError
from procledger.codec.schemas import default_registry
from procledger.domain.errors import REJECTION_CODES
from procledger.ledger.batch import Decoded, RefusedRecord, decode_record
from procledger.ledger.ports import KafkaRecord
from procledger.scenario.synthetic import synthetic_events

pytestmark = pytest.mark.chaos

HEADERS = [v.header for v in default_registry()]
VALID = [encode(e) for e in synthetic_events(200, seed=5, invalid_ratio=0.1)]
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


def _bytes() -> st.SearchStrategy[bytes]:
    """Random bytes, known headers with random bodies, and valid records with damage."""
    random = st.binary(max_size=512)
    headed = st.builds(lambda h, b: h + b, st.sampled_from(HEADERS), st.binary(max_size=512))
    flipped = st.builds(
        lambda v, i, x: v[: i % len(v)] + bytes([x]) + v[i % len(v) + 1 :],
        st.sampled_from(VALID), st.integers(0, 10_000), st.integers(0, 255),
    )  # fmt: skip
    cut = st.builds(lambda v, i: v[: i % len(v)], st.sampled_from(VALID), st.integers(0, 10_000))
    spliced = st.builds(
        lambda a, b, i: a[: i % len(a)] + b[i % len(b) :],
        st.sampled_from(VALID), st.sampled_from(VALID), st.integers(0, 10_000),
    )  # fmt: skip
    return st.one_of(random, headed, flipped, cut, spliced)


@FUZZ
@given(data=_bytes())
def test_decode_raises_only_codec_errors(data: bytes) -> None:
    try:
        decoded = decode(data)
    except CodecError as err:
        assert err.code in REJECTION_CODES
    else:
        assert decode(encode(decoded.event)).event == decoded.event


@FUZZ
@given(data=_bytes())
def test_the_consumer_decode_step_never_raises(data: bytes) -> None:
    item = decode_record(KafkaRecord("t", 0, 0, None, None, data))
    assert isinstance(item, Decoded | RefusedRecord)
    if isinstance(item, RefusedRecord):
        assert item.reason_code in REJECTION_CODES
