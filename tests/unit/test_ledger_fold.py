"""Each ledger rule, with its exact rejection code and message, and each event's postings."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from procledger.domain.errors import REJECTION_CODES, RULE_VIOLATIONS
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
from procledger.domain.ledger import (
    Applied,
    FoldResult,
    LedgerState,
    Order,
    OrderStatus,
    Rejected,
    decide,
    empty_state,
    fold,
)
from procledger.domain.postings import CHART_OF_ACCOUNTS, EntryRef, Posting, transfer
from procledger.domain.projections import totals

T0 = datetime(2024, 3, 31, 23, 30, tzinfo=UTC)
_seq = iter(range(10**9))


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def eid() -> str:
    return f"e-{next(_seq)}"


def placed(
    order_id: str = "O-1",
    quantity: int = 10000,
    price: str = "3.50",
    currency: str = "EUR",
    rate: str = "1.08",
    **kw: object,
) -> OrderPlaced:
    fields: dict[str, object] = {
        "event_id": eid(),
        "occurred_at": T0,
        "order_id": order_id,
        "buyer": "DEU",
        "supplier": "Rheinmetall",
        "item_description": "155mm HE shell",
        "caliber_mm": 155,
        "quantity": quantity,
        "unit_price": D(price),
        "currency": currency,
        "usd_rate": D(rate),
        "purpose": Purpose.UKRAINE_SUPPORT,
        "destination": "UKR",
        **kw,
    }
    return OrderPlaced(**fields)  # type: ignore[arg-type]


def amended(
    quantity: int | None = None, price: str | None = None, order_id: str = "O-1"
) -> OrderAmended:
    return OrderAmended(
        eid(), at(1), order_id, quantity, None if price is None else D(price), "renegotiated"
    )


def cancelled(order_id: str = "O-1") -> OrderCancelled:
    return OrderCancelled(eid(), at(2), order_id, "no longer needed")


def delivered(quantity: int, delivery_id: str = "d-1", order_id: str = "O-1") -> DeliveryRecorded:
    return DeliveryRecorded(eid(), at(3), order_id, delivery_id, quantity, "UKR")


def paid(
    amount: str, payment_id: str = "p-1", rate: str = "1.08", currency: str = "EUR"
) -> PaymentRecorded:
    return PaymentRecorded(eid(), at(4), "O-1", payment_id, D(amount), currency, D(rate))


def run(*events: Event, state: LedgerState | None = None) -> FoldResult:
    return fold(empty_state() if state is None else state, events)


def last(result: FoldResult) -> Applied | Rejected:
    return result.outcomes[-1][1]


def rejected(result: FoldResult) -> Rejected:
    outcome = last(result)
    assert isinstance(outcome, Rejected), outcome
    return outcome


def applied(result: FoldResult) -> Applied:
    outcome = last(result)
    assert isinstance(outcome, Applied), outcome
    return outcome


def legs(postings: Sequence[Posting]) -> list[tuple[str, str, D, D]]:
    return [(p.account, p.side, p.amount, p.amount_usd) for p in postings]


def order(result: FoldResult, order_id: str = "O-1") -> Order:
    return result.state.orders[order_id]


# --- the error vocabulary -------------------------------------------------------------


def test_rejection_codes_cover_every_rule_and_the_codec() -> None:
    assert [c.code for c in RULE_VIOLATIONS] == [
        "DUPLICATE_EVENT", "DUPLICATE_ORDER", "UNKNOWN_ORDER", "ORDER_CLOSED",
        "INVALID_AMENDMENT", "QUANTITY_BELOW_DELIVERED", "VALUE_BELOW_PAID", "OVER_DELIVERY",
        "DUPLICATE_DELIVERY", "CURRENCY_MISMATCH", "OVER_PAYMENT", "DUPLICATE_PAYMENT",
    ]  # fmt: skip
    assert REJECTION_CODES[-4:] == (
        "INVALID_EVENT", "UNDECODABLE", "UNKNOWN_SCHEMA", "WRONG_FRAMING",
    )  # fmt: skip
    assert len(set(REJECTION_CODES)) == len(REJECTION_CODES) == 16


# --- placement --------------------------------------------------------------------------


def test_placement_opens_the_order_and_encumbers_its_value() -> None:
    result = run(placed())
    o = order(result)
    assert (o.quantity, o.value, o.value_usd) == (10000, D("35000.00"), D("37800.00"))
    assert (o.delivered_quantity, o.delivered_value, o.paid, o.paid_usd) == (0, D(0), D(0), D(0))
    assert o.status is OrderStatus.OPEN
    assert o.placed_at == o.updated_at == T0
    assert (o.delivery_ids, o.payment_ids) == (frozenset(), frozenset())
    assert legs(applied(result).postings) == [
        ("BUDGET_ENCUMBERED", "D", D("35000.00"), D("37800.00")),
        ("OPEN_COMMITMENTS", "C", D("35000.00"), D("37800.00")),
    ]
    assert result.state.seen_event_ids == {result.outcomes[0][0].event_id}


@pytest.mark.parametrize(
    ("quantity", "price", "rate", "value", "value_usd"),
    [
        (1, "0.125", "1", "0.12", "0.12"),  # half-even: the 2 is even, stays
        (1, "0.135", "1", "0.14", "0.14"),  # half-even: the 3 is odd, goes up
        (3, "0.0450", "1.5", "0.14", "0.20"),  # 0.135 -> 0.14; 0.2025 -> 0.20
        (7, "1.0001", "0.91234567", "7.00", "6.39"),
    ],
)
def test_values_round_half_even_to_cents(
    quantity: int, price: str, rate: str, value: str, value_usd: str
) -> None:
    o = order(run(placed(quantity=quantity, price=price, rate=rate)))
    assert (o.value, o.value_usd) == (D(value), D(value_usd))
    assert str(o.value) == value


def test_duplicate_event_id_is_rejected_and_changes_nothing() -> None:
    first = placed()
    result = run(first, placed(order_id="O-2", event_id=first.event_id))
    r = rejected(result)
    assert (r.code, r.message) == ("DUPLICATE_EVENT", f"event {first.event_id} was already applied")
    assert set(result.state.orders) == {"O-1"}


def test_a_rejected_event_id_is_not_seen_and_may_come_again() -> None:
    early = delivered(10)
    result = run(early, placed(), early)
    assert [type(o).__name__ for _, o in result.outcomes] == ["Rejected", "Applied", "Applied"]
    assert early.event_id in result.state.seen_event_ids


def test_duplicate_order() -> None:
    second = placed()
    r = rejected(run(placed(), second))
    assert r.code == "DUPLICATE_ORDER"
    assert r.message == f"order O-1 was already placed; {second.event_id} cannot place it again"


# --- unknown and closed orders ------------------------------------------------------------


@pytest.mark.parametrize(
    "make", [lambda: amended(5), cancelled, lambda: delivered(1), lambda: paid("1.00")]
)
def test_every_order_event_needs_a_placed_order(make: object) -> None:
    event = make()  # type: ignore[operator]
    r = rejected(run(event))
    assert r.code == "UNKNOWN_ORDER"
    assert r.message == (
        f"{type(event).__name__} {event.event_id} refers to order O-1, which was never placed"
    )


@pytest.mark.parametrize("make", [lambda: amended(5), cancelled, lambda: delivered(1, "d-9")])
def test_closed_orders_take_no_changes(make: object) -> None:
    event = make()  # type: ignore[operator]
    r = rejected(run(placed(), cancelled(), event))
    assert r.code == "ORDER_CLOSED"
    assert (
        r.message
        == f"order O-1 is CANCELLED; {type(event).__name__} {event.event_id} needs an open order"
    )


def test_payment_is_allowed_on_a_fulfilled_order() -> None:
    result = run(placed(quantity=10), delivered(10), paid("35.00"))
    assert order(result).status is OrderStatus.FULFILLED
    assert order(result).paid == D("35.00")


# --- amendments ---------------------------------------------------------------------------


def test_amendment_recomputes_value_at_the_placement_rate() -> None:
    result = run(placed(), amended(12000, "3.25"))
    o = order(result)
    assert (o.quantity, o.unit_price, o.value, o.value_usd) == (
        12000,
        D("3.25"),
        D("39000.00"),
        D("42120.00"),
    )
    assert o.usd_rate == D("1.08")
    assert o.updated_at == at(1)
    assert legs(applied(result).postings) == [
        ("BUDGET_ENCUMBERED", "D", D("4000.00"), D("4320.00")),
        ("OPEN_COMMITMENTS", "C", D("4000.00"), D("4320.00")),
    ]


def test_amendment_down_reverses_the_sides() -> None:
    result = run(placed(), amended(8000))
    assert legs(applied(result).postings) == [
        ("OPEN_COMMITMENTS", "D", D("7000.00"), D("7560.00")),
        ("BUDGET_ENCUMBERED", "C", D("7000.00"), D("7560.00")),
    ]


def test_price_amendment_revalues_goods_already_received() -> None:
    result = run(placed(), delivered(4000), amended(price="4.00"))
    o = order(result)
    assert (o.value, o.delivered_value, o.delivered_value_usd) == (
        D("40000.00"),
        D("16000.00"),
        D("17280.00"),
    )
    assert legs(applied(result).postings) == [
        ("BUDGET_ENCUMBERED", "D", D("3000.00"), D("3240.00")),  # open 21000 -> 24000
        ("OPEN_COMMITMENTS", "C", D("3000.00"), D("3240.00")),
        ("GOODS_RECEIVED", "D", D("2000.00"), D("2160.00")),  # received 14000 -> 16000
        ("SUPPLIER_PAYABLE", "C", D("2000.00"), D("2160.00")),
    ]


@pytest.mark.parametrize(
    ("quantity", "price", "message"),
    [
        (None, None, "changes neither quantity nor unit price"),
        (0, None, "sets quantity 0; it must be positive"),
        (-5, "1.00", "sets quantity -5; it must be positive"),
        (None, "0.00", "sets unit price 0.00; it must be positive"),
        (10, "-1", "sets unit price -1; it must be positive"),
    ],
)
def test_invalid_amendments(quantity: int | None, price: str | None, message: str) -> None:
    event = amended(quantity, price)
    r = rejected(run(placed(), event))
    assert r.code == "INVALID_AMENDMENT"
    assert r.message == f"amendment {event.event_id} of order O-1 {message}"


def test_amendment_below_delivered() -> None:
    event = amended(2999)
    r = rejected(run(placed(), delivered(3000), event))
    assert r.code == "QUANTITY_BELOW_DELIVERED"
    assert r.message == (
        f"amendment {event.event_id} of order O-1 would cut it to 2999,"
        " below the 3000 already delivered"
    )


def test_amendment_to_exactly_delivered_fulfils_the_order() -> None:
    result = run(placed(), delivered(3000), amended(3000))
    o = order(result)
    assert (o.status, o.quantity, o.value, o.delivered_value) == (
        OrderStatus.FULFILLED, 3000, D("10500.00"), D("10500.00"),
    )  # fmt: skip
    assert legs(applied(result).postings) == [
        ("OPEN_COMMITMENTS", "D", D("24500.00"), D("26460.00")),
        ("BUDGET_ENCUMBERED", "C", D("24500.00"), D("26460.00")),
    ]


def test_amendment_below_paid() -> None:
    event = amended(price="1.99")
    r = rejected(run(placed(), paid("20000.00"), event))
    assert r.code == "VALUE_BELOW_PAID"
    assert r.message == (
        f"amendment {event.event_id} of order O-1 would bring its value to 19900.00 EUR,"
        " below the 20000.00 EUR already paid"
    )
    assert applied(run(placed(), paid("20000.00"), amended(price="2.00"))).order is not None


# --- cancellation -------------------------------------------------------------------------


def test_cancellation_releases_the_undelivered_remainder() -> None:
    result = run(placed(), delivered(2500), cancelled())
    o = order(result)
    assert (o.status, o.quantity, o.value, o.value_usd) == (
        OrderStatus.CANCELLED, 2500, D("8750.00"), D("9450.00"),
    )  # fmt: skip
    assert legs(applied(result).postings) == [
        ("OPEN_COMMITMENTS", "D", D("26250.00"), D("28350.00")),
        ("BUDGET_ENCUMBERED", "C", D("26250.00"), D("28350.00")),
    ]


def test_cancellation_keeps_an_earlier_prepayment() -> None:
    o = order(run(placed(), paid("1000.00"), cancelled()))
    assert (o.value, o.paid, o.status) == (D("0.00"), D("1000.00"), OrderStatus.CANCELLED)


# --- deliveries ---------------------------------------------------------------------------


def test_deliveries_use_cumulative_rounding() -> None:
    # 3 x 0.125 each: 0.375 exact; per-delivery rounding would give 0.12 + 0.12 + 0.12.
    result = run(placed(quantity=3, price="0.125", rate="1"), delivered(1), delivered(1, "d-2"))
    assert order(result).delivered_value == D("0.25")  # 2 x 0.125 = 0.25
    assert legs(applied(result).postings)[2][2] == D("0.13")  # 0.25 - 0.12
    final = run(delivered(1, "d-3"), state=result.state)
    o = order(final)
    assert (o.delivered_value, o.value, o.status) == (D("0.38"), D("0.38"), OrderStatus.FULFILLED)
    assert legs(applied(final).postings) == [
        ("OPEN_COMMITMENTS", "D", D("0.13"), D("0.13")),
        ("BUDGET_ENCUMBERED", "C", D("0.13"), D("0.13")),
        ("GOODS_RECEIVED", "D", D("0.13"), D("0.13")),
        ("SUPPLIER_PAYABLE", "C", D("0.13"), D("0.13")),
    ]


def test_over_delivery() -> None:
    r = rejected(run(placed(), delivered(10000 - 500), delivered(1000, "d-2")))
    assert r.code == "OVER_DELIVERY"
    assert (
        r.message
        == "delivery of 1000 would bring order O-1 to 10500 delivered, above the 10000 committed"
    )


def test_duplicate_delivery() -> None:
    result = run(placed(), delivered(10), delivered(10))
    r = rejected(result)
    assert (r.code, r.message) == (
        "DUPLICATE_DELIVERY",
        "delivery d-1 of order O-1 was already recorded",
    )
    assert order(result).delivered_quantity == 10
    assert order(result).delivery_ids == {"d-1"}


# --- payments -----------------------------------------------------------------------------


def test_payment_at_its_own_rate_with_the_fx_gap() -> None:
    result = run(placed(), delivered(1000), paid("3500.00", rate="1.10"))
    o = order(result)
    assert (o.paid, o.paid_usd, o.payment_ids) == (D("3500.00"), D("3850.00"), frozenset({"p-1"}))
    assert legs(applied(result).postings) == [
        ("SUPPLIER_PAYABLE", "D", D("3500.00"), D("3780.00")),
        ("CASH", "C", D("3500.00"), D("3850.00")),
        ("FX_DIFFERENCE", "D", D("0"), D("70.00")),
    ]
    gain = applied(run(paid("100.00", "p-2", rate="1.00"), state=result.state))
    assert legs(gain.postings)[2] == ("FX_DIFFERENCE", "C", D("0"), D("8.00"))


def test_paid_usd_rounds_each_payment_half_even() -> None:
    # 0.25 x 0.5 = 0.125 -> 0.12 and 0.27 x 0.5 = 0.135 -> 0.14, per payment.
    result = run(placed(rate="0.5"), paid("0.25", rate="0.5"), paid("0.27", "p-2", rate="0.5"))
    assert order(result).paid_usd == D("0.26")


def test_currency_mismatch() -> None:
    r = rejected(run(placed(), paid("10.00", currency="USD")))
    assert (r.code, r.message) == (
        "CURRENCY_MISMATCH",
        "payment p-1 is in USD, but order O-1 is in EUR",
    )


def test_over_payment() -> None:
    r = rejected(run(placed(), paid("30000.00"), paid("5000.01", "p-2")))
    assert r.code == "OVER_PAYMENT"
    assert r.message == (
        "payment of 5000.01 EUR would bring order O-1 to 35000.01 EUR paid,"
        " above its value of 35000.00 EUR"
    )


def test_duplicate_payment() -> None:
    r = rejected(run(placed(), paid("1.00"), paid("1.00")))
    assert (r.code, r.message) == (
        "DUPLICATE_PAYMENT",
        "payment p-1 of order O-1 was already recorded",
    )


# --- stockpile targets --------------------------------------------------------------------


def target(quantity: int, minutes: int) -> StockpileTargetSet:
    return StockpileTargetSet(eid(), at(minutes), "POL", 155, quantity, "MoD")


def test_latest_business_time_wins_for_targets() -> None:
    late_old = target(100, 1)
    result = run(target(300, 10), late_old, target(200, 10))
    assert all(isinstance(o, Applied) and not o.postings for _, o in result.outcomes)
    current = result.state.targets[("POL", 155)]
    assert (current.target_quantity, current.set_at) == (200, at(10))
    assert late_old.event_id in result.state.seen_event_ids
    outcome = result.outcomes[1][1]
    assert isinstance(outcome, Applied) and outcome.target is not None
    assert outcome.target.target_quantity == 300  # the newer target stays in force


# --- decide, purity, projections ----------------------------------------------------------


def test_decide_leaves_the_state_alone() -> None:
    state = run(placed()).state
    outcome = decide(state, delivered(10))
    assert isinstance(outcome, Applied) and outcome.order is not None
    assert outcome.order.delivered_quantity == 10
    assert state.orders["O-1"].delivered_quantity == 0


def test_fold_does_not_mutate_its_input() -> None:
    state = run(placed()).state
    before = (dict(state.orders), dict(state.targets), state.seen_event_ids)
    run(delivered(10), cancelled(), placed("O-2"), state=state)
    assert (dict(state.orders), dict(state.targets), state.seen_event_ids) == before


def test_transfer_splits_legs_that_round_to_opposite_signs() -> None:
    ref = EntryRef("e", "O-1", "EUR")
    assert legs(transfer(ref, "A", "B", D("0.01"), D("-0.02"))) == [
        ("A", "D", D("0.01"), D(0)),
        ("B", "C", D("0.01"), D(0)),
        ("B", "D", D(0), D("0.02")),
        ("A", "C", D(0), D("0.02")),
    ]
    assert legs(transfer(ref, "A", "B", D("-1.00"), D("0"))) == [
        ("B", "D", D("1.00"), D(0)),
        ("A", "C", D("1.00"), D(0)),
    ]
    assert transfer(ref, "A", "B", D("0.00"), D("-0.00")) == []


def test_chart_of_accounts_names_every_posted_account() -> None:
    result = run(placed(), delivered(5), paid("1.00", rate="1.2"), amended(price="4"), cancelled())
    accounts = {p.account for _, o in result.outcomes if isinstance(o, Applied) for p in o.postings}
    assert accounts == set(CHART_OF_ACCOUNTS)


def test_totals_by_dimensions() -> None:
    state = run(
        placed("O-1"),
        placed("O-2", quantity=10, price="1", currency="USD", rate="1", occurred_at=at(60)),
        placed("O-3", buyer="POL", caliber_mm=None),
        DeliveryRecorded(eid(), at(3), "O-2", "d", 4, None),
    ).state
    rows = totals(state, ["month", "currency"])
    assert [
        (r.key, r.ordered_quantity, r.ordered_value_usd, r.delivered_quantity, r.orders)
        for r in rows
    ] == [
        ((("month", "2024-03"), ("currency", "EUR")), 20000, D("75600.00"), 0, 2),
        ((("month", "2024-04"), ("currency", "USD")), 10, D("10.00"), 4, 1),
    ]
    by_caliber = totals(state, ["caliber_mm"])
    assert [(r.get("caliber_mm"), r.orders) for r in by_caliber] == [(155, 2), (None, 1)]
    assert [r.orders for r in totals(state, [])] == [3]
    with pytest.raises(ValueError, match="unknown totals dimension"):
        totals(state, ["colour"])
