"""Valid sample events of every type, shared by the codec, validation and text format tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

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

AT = datetime(2023, 6, 15, 9, 30, 0, 123456, tzinfo=UTC)
CET = timezone(timedelta(hours=2))

PLACED = OrderPlaced(
    event_id="6f1c2a3e-9b7d-5e41-8c2f-155155155155",
    occurred_at=AT,
    order_id="DEU-2023-0001",
    buyer="DEU",
    supplier="Rheinmetall",
    item_description="155mm HE shell, L15A1",
    caliber_mm=155,
    quantity=40_000,
    unit_price=Decimal("3000.5"),
    currency="EUR",
    usd_rate=Decimal("1.0844"),
    purpose=Purpose.UKRAINE_SUPPORT,
    destination="UKR",
    supplier_country="DEU",
    contract_ref="BAAINBw-2023-0001",
    nsn="1320-12-345-6789",
    expected_delivery=datetime(2024, 1, 31, 12, 0, tzinfo=CET),
)
PLACED_MINIMAL = OrderPlaced(
    event_id="00000000-0000-4000-8000-000000000001",
    occurred_at=AT,
    order_id="POL-1",
    buyer="POL",
    supplier="Mesko",
    item_description="120mm mortar bomb",
    caliber_mm=None,
    quantity=1,
    unit_price=Decimal("0.0001"),
    currency="PLN",
    usd_rate=Decimal("0.2430"),
    purpose=Purpose.NATIONAL_STOCKPILE,
    destination=None,
)
AMENDED = OrderAmended(
    event_id="00000000-0000-4000-8000-000000000002",
    occurred_at=AT + timedelta(days=3),
    order_id="DEU-2023-0001",
    quantity=45_000,
    unit_price=Decimal("3100.25"),
    reason="Renegotiated after the Brussels ministerial",
)
AMENDED_PRICE_ONLY = OrderAmended(
    event_id="00000000-0000-4000-8000-000000000003",
    occurred_at=AT,
    order_id="DEU-2023-0001",
    quantity=None,
    unit_price=Decimal("2999.9999"),
    reason="Price indexation",
)
CANCELLED = OrderCancelled(
    event_id="00000000-0000-4000-8000-000000000004",
    occurred_at=AT,
    order_id="DEU-2023-0001",
    reason="Supplier capacity\nreallocated",
)
DELIVERED = DeliveryRecorded(
    event_id="00000000-0000-4000-8000-000000000005",
    occurred_at=AT,
    order_id="DEU-2023-0001",
    delivery_id="LOT-7",
    quantity=5_000,
    destination="UKR",
)
PAID = PaymentRecorded(
    event_id="00000000-0000-4000-8000-000000000006",
    occurred_at=AT,
    order_id="DEU-2023-0001",
    payment_id="PAY-1",
    amount=Decimal("15002500.00"),
    currency="EUR",
    usd_rate=Decimal("1.08440000"),
)
TARGET = StockpileTargetSet(
    event_id="00000000-0000-4000-8000-000000000007",
    occurred_at=AT,
    country="FIN",
    caliber_mm=155,
    target_quantity=0,
    authority="NATO Defence Ministers, Brussels",
)

SAMPLES: dict[str, Event] = {
    "placed": PLACED,
    "placed_minimal": PLACED_MINIMAL,
    "amended": AMENDED,
    "amended_price_only": AMENDED_PRICE_ONLY,
    "cancelled": CANCELLED,
    "delivered": DELIVERED,
    "paid": PAID,
    "target": TARGET,
}
