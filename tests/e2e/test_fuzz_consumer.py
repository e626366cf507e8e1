"""Hypothesis-generated records through the real consumer: it never stops, never skips."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kafka import KafkaProducer

from procledger.codec.avro import encode
from procledger.codec.errors import EncodeError
from procledger.domain.errors import REJECTION_CODES
from procledger.domain.events import DeliveryRecorded, OrderPlaced, PaymentRecorded, Purpose
from procledger_dev.chaos.report import ScenarioFigures
from tests.plugins.ledger import LedgerEnv

from .conftest import FULL, scenario
from .test_fuzz_codec import _bytes

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]
EXAMPLES = 3000 if FULL else 300

_text = st.text(max_size=40)
_ids = st.one_of(st.uuids().map(str), _text)
_when = st.datetimes(
    min_value=datetime(1970, 1, 2), max_value=datetime(2200, 1, 1), timezones=st.just(UTC)
)
_money = st.decimals(min_value=Decimal("-1e6"), max_value=Decimal("1e13"), places=2)
_long = st.integers(min_value=-(2**63), max_value=2**63 - 1)
_orders = st.sampled_from(["FZ-1", "FZ-2", "FZ-3"])


def _events() -> st.SearchStrategy[bytes]:
    """Valid-looking events: right types, random values (a few orders, so rules interact)."""
    placed = st.builds(
        OrderPlaced, _ids, _when, _orders, st.sampled_from(["DEU", "FRA", "XXX", ""]), _text,
        _text, st.one_of(st.none(), st.integers(1, 200)), _long,
        st.decimals(min_value=Decimal("-1"), max_value=Decimal("1e9"), places=4),
        st.sampled_from(["EUR", "USD", "ZZZ"]),
        st.decimals(min_value=Decimal("0"), max_value=Decimal("10"), places=8),
        st.sampled_from(list(Purpose)), st.sampled_from([None, "UKR", "DEU", "QQQ"]),
    )  # fmt: skip
    delivered = st.builds(
        DeliveryRecorded, _ids, _when, _orders, _ids, _long, st.sampled_from([None, "UKR"])
    )
    paid = st.builds(
        PaymentRecorded, _ids, _when, _orders, _ids, _money, st.sampled_from(["EUR", "USD"]),
        st.decimals(min_value=Decimal("0.5"), max_value=Decimal("2"), places=8),
    )  # fmt: skip

    def encoded(event: object) -> bytes:
        try:
            return encode(event)  # type: ignore[arg-type]
        except EncodeError:
            return b"unencodable: " + repr(event).encode()[:200]

    return st.one_of(placed, delivered, paid).map(encoded)


def test_fuzzed_records_through_the_consumer(cledger: LedgerEnv, record: Record) -> None:
    started = time.monotonic()
    collected: list[tuple[str, bytes]] = []

    @settings(max_examples=EXAMPLES, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(st.one_of(_bytes().map(lambda b: ("bytes", b)), _events().map(lambda b: ("event", b))))
    def generate(item: tuple[str, bytes]) -> None:
        collected.append(item)

    generate()
    producer = KafkaProducer(acks="all", **cledger.kafka.client_config())
    for _, value in collected:
        producer.send(cledger.topics.orders, key=b"fuzz", value=value)
    producer.flush()
    producer.close()
    cledger.consume()  # exits 0 only once every partition is caught up
    journal = cledger.scalar("SELECT count(*) FROM ledger.journal")
    reasons = dict(cledger.rows("SELECT reason_code, count(*) FROM ledger.rejections GROUP BY 1"))
    offsets = sorted(
        o for (o,) in cledger.rows(
            "SELECT kafka_offset FROM ledger.journal UNION ALL"
            " SELECT kafka_offset FROM ledger.rejections"
        )
    )  # fmt: skip
    tried = Counter(f"fuzz: {kind}" for kind, _ in collected)
    ok = offsets == list(range(len(collected))) and set(reasons) <= set(REJECTION_CODES)
    record(scenario(
        "hypothesis-fuzzed records through the consumer", events=len(collected),
        consumers_started=1, bad_inputs=dict(tried), discrepancies=0 if ok else 1,
        seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert offsets == list(range(len(collected)))  # every record in exactly one place
    assert set(reasons) <= set(REJECTION_CODES)
    assert journal + sum(reasons.values()) == len(collected)
