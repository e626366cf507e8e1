"""Bad input: every malformed record and every broken rule ends rejected with the right reason."""

from __future__ import annotations

import copy
import io
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from fastavro import parse_schema, schemaless_writer
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import MessageSizeTooLargeError

from procledger.codec.avro import encode
from procledger.codec.schemas import default_registry
from procledger.domain.events import (
    DeliveryRecorded,
    Event,
    OrderAmended,
    OrderCancelled,
    OrderPlaced,
    PaymentRecorded,
    Purpose,
)
from procledger_dev.chaos.report import ScenarioFigures
from tests.plugins.ledger import LedgerEnv

from .conftest import scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]
AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
APPLIED = "APPLIED"


def _id() -> str:
    return str(uuid.uuid4())


def _placed(order_id: str, **changes: object) -> OrderPlaced:
    base = OrderPlaced(
        event_id=_id(), occurred_at=AT, order_id=order_id, buyer="DEU", supplier="Rheinmetall",
        item_description="155mm HE shell", caliber_mm=155, quantity=100,
        unit_price=Decimal("10.0000"), currency="EUR", usd_rate=Decimal("1.10000000"),
        purpose=Purpose.NATIONAL_STOCKPILE, destination="DEU",
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def _business_cases() -> list[tuple[str, str, Event]]:
    """(class, expected outcome, event): one order walked through every rule it can break."""
    a = "BAD-" + uuid.uuid4().hex[:8]
    placed = _placed(a)
    t = [AT + timedelta(minutes=i) for i in range(20)]

    def deliver(delivery_id: str, qty: int, i: int) -> DeliveryRecorded:
        return DeliveryRecorded(_id(), t[i], a, delivery_id, qty, None)

    def pay(payment_id: str, amount: str, currency: str, i: int) -> PaymentRecorded:
        return PaymentRecorded(_id(), t[i], a, payment_id, Decimal(amount), currency,
                               Decimal("1.10000000"))  # fmt: skip

    return [
        ("valid", APPLIED, placed),
        # The same event again is safe (acknowledged, not an error); a different event under
        # the same id is a conflict.
        ("redelivery", "REDELIVERED", placed),
        ("rule", "EVENT_ID_CONFLICT", replace(placed, quantity=placed.quantity + 1)),
        ("rule", "DUPLICATE_ORDER", replace(placed, event_id=_id())),
        ("rule", "UNKNOWN_ORDER", DeliveryRecorded(_id(), t[1], "NOPE-" + a, "D0", 1, None)),
        # The fold's INVALID_AMENDMENT cases (nothing set, zero or negative values) are all
        # caught first by field validation, so from Kafka they arrive as INVALID_EVENT.
        ("rule", "INVALID_EVENT", OrderAmended(_id(), t[2], a, None, None, "no change")),
        ("rule", "INVALID_EVENT", OrderAmended(_id(), t[2], a, 0, None, "zero")),
        ("valid", APPLIED, deliver("D1", 10, 3)),
        ("rule", "QUANTITY_BELOW_DELIVERED", OrderAmended(_id(), t[4], a, 5, None, "cut")),
        ("valid", APPLIED, pay("P1", "500.00", "EUR", 5)),
        ("rule", "VALUE_BELOW_PAID", OrderAmended(_id(), t[6], a, None, Decimal("1"), "cut")),
        ("rule", "OVER_DELIVERY", deliver("D2", 1000, 7)),
        ("rule", "DUPLICATE_DELIVERY", deliver("D1", 1, 8)),
        ("rule", "CURRENCY_MISMATCH", pay("P2", "1.00", "USD", 9)),
        ("rule", "OVER_PAYMENT", pay("P3", "10000.00", "EUR", 10)),
        ("rule", "DUPLICATE_PAYMENT", pay("P1", "1.00", "EUR", 11)),
        ("valid", APPLIED, OrderCancelled(_id(), t[12], a, "war ended")),
        ("rule", "ORDER_CLOSED", deliver("D3", 1, 13)),
        ("field", "INVALID_EVENT", _placed("X-" + a, buyer="XXX")),  # unknown country
        ("field", "INVALID_EVENT", _placed("Y-" + a, currency="ZZZ")),  # unknown currency
        ("field", "INVALID_EVENT", _placed("Z-" + a, event_id="not-a-uuid")),
        ("field", "INVALID_EVENT", _placed("W-" + a, quantity=0)),
    ]


def _zigzag(n: int) -> bytes:
    n = (n << 1) ^ (n >> 63)
    out = b""
    while n >= 0x80:
        out += bytes([(n & 0x7F) | 0x80])
        n >>= 7
    return out + bytes([n])


def _raw_cases() -> list[tuple[str, str, bytes | None]]:
    """(class, expected reason, value): bytes no schema-aware producer would ever send."""
    version = default_registry().current("OrderPlaced")
    good = encode(_placed("RAW-" + uuid.uuid4().hex[:8], supplier="AAAAAAAA"))
    # A decimal with more digits than decimal(18,4), written with a widened twin schema.
    wide = copy.deepcopy(dict(version.schema))
    for f in wide["fields"]:
        if f["name"] == "unit_price":
            f["type"] = dict(f["type"], precision=38)
    record = {f.name: getattr(_placed("DEC"), f.name) for f in version.fields}
    record["purpose"] = record["purpose"].value
    record["unit_price"] = Decimal("12345678901234567890.1234")
    body = io.BytesIO()
    schemaless_writer(body, parse_schema(wide), record)
    # Quantity varints 11 bytes long: more than any 64-bit long can take.
    q = encode(_placed("VAR-" + uuid.uuid4().hex[:8], quantity=1234567))
    cancelled = encode(OrderCancelled(_id(), AT, "X", "r"))
    return [
        ("not single-object Avro", "UNDECODABLE", b"this is not avro at all"),
        ("not single-object Avro", "UNDECODABLE", b'{"event_id": "json?"}'),
        ("empty value", "UNDECODABLE", b""),
        ("null value (tombstone)", "UNDECODABLE", None),
        ("Confluent framing", "WRONG_FRAMING", b"\x00" + (7).to_bytes(4, "big") + good[10:]),
        ("unknown fingerprint", "UNKNOWN_SCHEMA", b"\xc3\x01" + b"\x5a" * 8 + good[10:]),
        ("truncated body", "UNDECODABLE", good[:-7]),
        ("truncated body", "UNDECODABLE", good[:11]),
        ("trailing bytes", "UNDECODABLE", good + b"\x00"),
        ("wrong types", "UNDECODABLE", version.header + cancelled[10:]),
        ("decimal beyond precision", "UNDECODABLE", version.header + body.getvalue()),
        ("invalid UTF-8", "UNDECODABLE", good.replace(b"AAAAAAAA", b"\xff\xfe\xfdAAAAA", 1)),
        # Both would decode to some other number if the codec trusted fastavro alone.
        ("over-long number (varint)", "UNDECODABLE",
         q.replace(_zigzag(1234567), b"\xff" * 10 + b"\x01", 1)),
        ("over-long number (varint)", "UNDECODABLE",
         q.replace(_zigzag(1234567), b"\x80" * 10 + b"\x02", 1)),
        ("oversized value", "UNDECODABLE", version.header + b"\x01" * 500_000),
    ]  # fmt: skip


def _overflowing_value() -> Event:
    # Every field fits its schema, yet quantity x price x rate is beyond any ledger column.
    return _placed(
        "HUGE-" + uuid.uuid4().hex[:8], quantity=2**63 - 1,
        unit_price=Decimal("99999999999999.9999"), usd_rate=Decimal("9999999999.99999999"),
    )  # fmt: skip


def test_every_bad_record_is_rejected_with_its_reason(cledger: LedgerEnv, record: Record) -> None:
    started = time.monotonic()
    producer = KafkaProducer(
        acks="all", max_request_size=2_000_000, **cledger.kafka.client_config()
    )
    topic = cledger.topics.orders
    sent: list[tuple[str, str, int]] = []  # (class, expected, offset) on partition 0

    def send(kind: str, expected: str, value: bytes | None) -> None:
        # A tombstone needs a key (kafka-python refuses a record with neither).
        key = b"tombstone" if value is None else None
        meta = producer.send(topic, key=key, value=value, partition=0).get(timeout=30)
        sent.append((kind, expected, meta.offset))

    for kind, expected, event in _business_cases():
        send(kind, expected, encode(event))
    for kind, expected, value in _raw_cases():
        send(kind, expected, value)
    send("value overflow (quantity x price)", "INVALID_EVENT", encode(_overflowing_value()))
    # Beyond the broker's message.max.bytes: refused at the door, never in the log. (Its own
    # producer: kafka-python fails the next send of a producer whose request was refused.)
    big = KafkaProducer(acks="all", max_request_size=2_000_000, **cledger.kafka.client_config())
    with pytest.raises(MessageSizeTooLargeError):
        big.send(topic, value=b"\x00" * 1_500_000, partition=0).get(timeout=30)
    big.close()
    # Valid after all the garbage: the consumer must not have stopped or skipped.
    send("valid", APPLIED, encode(_placed("AFTER-" + uuid.uuid4().hex[:8])))
    producer.close()

    cledger.consume()
    outcomes = {o: r for o, r in cledger.rows(
        "SELECT kafka_offset, reason_code FROM ledger.rejections WHERE kafka_partition = 0"
    )}  # fmt: skip
    applied = {o for (o,) in cledger.rows(
        "SELECT kafka_offset FROM ledger.journal WHERE kafka_partition = 0"
    )}  # fmt: skip
    got = [(kind, APPLIED if off in applied else outcomes.get(off, "MISSING"), off)
           for kind, _, off in sent]  # fmt: skip
    dead_letters = {o: r for o, r in outcomes.items() if r != "REDELIVERED"}
    dlq = _read_dlq(cledger, expected=len(dead_letters))
    tried = Counter(kind for kind, _, _ in sent if kind != "valid")
    record(scenario(
        "bad input: malformed bytes and every rule broken", events=len(sent),
        consumers_started=1, bad_inputs=dict(tried),
        discrepancies=sum(g != s for g, s in zip(got, sent, strict=True)),
        seconds=time.monotonic() - started,
    ))  # fmt: skip
    assert got == sent
    assert cledger.scalar("SELECT next_offset FROM ledger.positions WHERE kafka_partition = 0"
                          " AND topic = %s", (topic,)) == len(sent)  # fmt: skip
    # Each rejection but the re-delivery reached the DLQ once, with Connect's headers naming
    # offset and reason.
    assert sorted(dlq) == sorted(dead_letters.items())


def _read_dlq(ledger: LedgerEnv, expected: int) -> list[tuple[int, str]]:
    consumer = KafkaConsumer(
        ledger.topics.dlq, auto_offset_reset="earliest", consumer_timeout_ms=10_000,
        **ledger.kafka.client_config(),
    )  # fmt: skip
    found: list[tuple[int, str]] = []
    try:
        for message in consumer:
            headers = dict(message.headers)
            assert headers["__connect.errors.topic"] == ledger.topics.orders.encode()
            found.append((
                int(headers["__connect.errors.offset"]),
                headers["__connect.errors.exception.class.name"].decode(),
            ))  # fmt: skip
            if len(found) >= expected:
                break
    finally:
        consumer.close()
    return found
