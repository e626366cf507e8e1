"""Properties of the fold over random event sequences, valid and invalid, with repeats."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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
    OrderStatus,
    Rejected,
    decide,
    empty_state,
    fold,
)
from procledger.domain.money import order_value
from procledger.domain.postings import CHART_OF_ACCOUNTS
from procledger.domain.projections import DIMENSIONS, totals

T0 = datetime(2024, 1, 31, 22, tzinfo=UTC)
ZERO = Decimal(0)

# Small pools make collisions (duplicates, unknown orders, closed orders) common.
event_ids = st.builds(
    lambda pick, fresh: f"e-{pick}" if pick < 2 else f"e-{fresh}",
    st.integers(0, 9),
    st.integers(10, 10**12),
)
order_ids = st.sampled_from(["O-1", "O-2"])
some_quantity = st.one_of(st.integers(1, 6), st.integers(1, 40))
times = st.integers(0, 60 * 24 * 40).map(lambda m: T0 + timedelta(minutes=m))
currencies = st.sampled_from(["EUR", "EUR", "EUR", "USD"])


def scaled(low: int, high: int, places: st.SearchStrategy[int]) -> st.SearchStrategy[Decimal]:
    return st.builds(lambda i, k: Decimal(i).scaleb(-k), st.integers(low, high), places)


prices = scaled(1, 10**6, st.integers(2, 4))
rates = scaled(1, 3 * 10**6, st.just(6))
amounts = st.one_of(scaled(1, 500, st.just(2)), scaled(1, 10**6, st.just(2)))

placements = st.builds(
    OrderPlaced,
    event_id=event_ids,
    occurred_at=times,
    order_id=order_ids,
    buyer=st.sampled_from(["DEU", "POL"]),
    supplier=st.sampled_from(["Nammo", "KNDS"]),
    item_description=st.just("shell"),
    caliber_mm=st.sampled_from([155, 120, None]),
    quantity=some_quantity,
    unit_price=prices,
    currency=currencies,
    usd_rate=rates,
    purpose=st.sampled_from(Purpose),
    destination=st.sampled_from(["UKR", None]),
)
amendments = st.builds(
    OrderAmended,
    event_id=event_ids,
    occurred_at=times,
    order_id=order_ids,
    quantity=st.one_of(st.none(), st.integers(-1, 70)),
    unit_price=st.one_of(st.none(), prices, st.sampled_from([ZERO, Decimal("-1.00")])),
    reason=st.just("r"),
)
cancellations = st.builds(
    OrderCancelled, event_id=event_ids, occurred_at=times, order_id=order_ids, reason=st.just("r")
)
deliveries = st.builds(
    DeliveryRecorded,
    event_id=event_ids,
    occurred_at=times,
    order_id=order_ids,
    delivery_id=st.sampled_from([f"d-{i}" for i in range(6)]),
    quantity=st.integers(1, 6),
    destination=st.just(None),
)
payments = st.builds(
    PaymentRecorded,
    event_id=event_ids,
    occurred_at=times,
    order_id=order_ids,
    payment_id=st.sampled_from(["p-1", "p-2", "p-3", "p-4"]),
    amount=amounts,
    currency=currencies,
    usd_rate=rates,
)
targets = st.builds(
    StockpileTargetSet,
    event_id=event_ids,
    occurred_at=times,
    country=st.sampled_from(["POL", "DEU"]),
    caliber_mm=st.sampled_from([155, 120]),
    target_quantity=st.integers(0, 10**6),
    authority=st.just("MoD"),
)
# Deliveries and payments twice: the events that move value are the most common.
any_event: st.SearchStrategy[Event] = st.one_of(
    deliveries,
    payments,
    amendments,
    deliveries,
    payments,
    deliveries,
    placements,
    cancellations,
    targets,
)
# Most histories open a few orders first, so that later events mostly find their order.
histories = st.builds(
    lambda opening, rest: opening + rest,
    st.lists(placements, min_size=1, max_size=3),
    st.lists(any_event, min_size=8, max_size=60),
)
SETTINGS = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def applied_postings(result: FoldResult) -> list[tuple[Event, Applied]]:
    return [(e, o) for e, o in result.outcomes if isinstance(o, Applied)]


@SETTINGS
@given(histories)
def test_order_invariants_hold(events: list[Event]) -> None:
    for o in fold(empty_state(), events).state.orders.values():
        assert 0 <= o.delivered_quantity <= o.quantity
        assert o.paid <= o.value or o.status is OrderStatus.CANCELLED
        assert o.value == order_value(o.quantity, o.unit_price)
        assert o.value_usd == order_value(o.quantity, o.unit_price, o.usd_rate)
        assert o.delivered_value == order_value(o.delivered_quantity, o.unit_price)
        assert o.delivered_value_usd == order_value(o.delivered_quantity, o.unit_price, o.usd_rate)
        assert (o.status is OrderStatus.OPEN) == (o.delivered_quantity < o.quantity)
        assert o.paid_usd >= 0 and o.paid >= 0


@SETTINGS
@given(histories)
def test_postings_balance_per_event(events: list[Event]) -> None:
    for event, outcome in applied_postings(fold(empty_state(), events)):
        debit = credit = debit_usd = credit_usd = ZERO
        for p in outcome.postings:
            assert p.event_id == event.event_id and p.account in CHART_OF_ACCOUNTS
            assert p.amount >= 0 and p.amount_usd >= 0 and (p.amount or p.amount_usd)
            assert p.amount == p.amount.quantize(Decimal("0.01"))
            # An event's legs share its order and currency: they are stored as one entry.
            assert outcome.order is not None and p.currency == outcome.order.currency
            assert p.order_id == outcome.order.order_id
            if p.side == "D":
                debit, debit_usd = debit + p.amount, debit_usd + p.amount_usd
            else:
                credit, credit_usd = credit + p.amount, credit_usd + p.amount_usd
        assert (debit, debit_usd) == (credit, credit_usd)
        if isinstance(event, StockpileTargetSet):
            assert outcome.postings == ()


@SETTINGS
@given(histories)
def test_account_balances_reconcile_with_orders(events: list[Event]) -> None:
    result = fold(empty_state(), events)
    # Per order and account: (Dr - Cr) in the order currency and in USD.
    bal: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for _, outcome in applied_postings(result):
        for p in outcome.postings:
            sign = 1 if p.side == "D" else -1
            acc = bal[(p.order_id, p.account)]
            acc[0] += sign * p.amount
            acc[1] += sign * p.amount_usd
    for oid, o in result.state.orders.items():
        open_value = [o.value - o.delivered_value, o.value_usd - o.delivered_value_usd]
        assert bal[(oid, "BUDGET_ENCUMBERED")] == open_value
        assert bal[(oid, "OPEN_COMMITMENTS")] == [-v for v in open_value]
        if o.status is not OrderStatus.OPEN:
            assert open_value == [0, 0]
        assert bal[(oid, "GOODS_RECEIVED")] == [o.delivered_value, o.delivered_value_usd]
        assert bal[(oid, "CASH")] == [-o.paid, -o.paid_usd]
        fx = bal[(oid, "FX_DIFFERENCE")]
        assert fx[0] == 0
        assert fx[1] == o.fx_difference_usd  # the projection's copy: totals read it
        payable = bal[(oid, "SUPPLIER_PAYABLE")]
        assert payable[0] == o.paid - o.delivered_value
        assert payable[1] + fx[1] == o.paid_usd - o.delivered_value_usd
        total = [sum(bal[(oid, a)][i] for a in CHART_OF_ACCOUNTS) for i in (0, 1)]
        assert total == [0, 0]


@SETTINGS
@given(histories, st.lists(st.sampled_from(sorted(DIMENSIONS)), unique=True))
def test_totals_equal_the_sum_of_orders(events: list[Event], by: Sequence[str]) -> None:
    state = fold(empty_state(), events).state
    rows = totals(state, by)
    orders = list(state.orders.values())
    assert sum(r.orders for r in rows) == len(orders)
    assert sum(r.ordered_quantity for r in rows) == sum(o.quantity for o in orders)
    assert sum(r.ordered_value_usd for r in rows) == sum(o.value_usd for o in orders)
    assert sum(r.delivered_quantity for r in rows) == sum(o.delivered_quantity for o in orders)
    assert sum(r.paid_usd for r in rows) == sum(o.paid_usd for o in orders)
    assert len({r.key for r in rows}) == len(rows)
    for row in rows:
        members = [o for o in orders if all(DIMENSIONS[d](o) == v for d, v in row.key)]
        assert row.orders == len(members)
        assert row.ordered_value_usd == sum(o.value_usd for o in members)


@SETTINGS
@given(histories)
def test_refolding_is_idempotent(events: list[Event]) -> None:
    first = fold(empty_state(), events)
    applied = [e for e, _ in applied_postings(first)]
    again = fold(first.state, applied)
    assert all(isinstance(o, Rejected) and o.code == "DUPLICATE_EVENT" for _, o in again.outcomes)
    assert again.state == first.state
    # Refolding everything: what was applied is now a duplicate. (A rejected event may
    # apply on the second pass, e.g. a delivery that arrived before its order.)
    whole = fold(first.state, events)
    for (_, before), (_, after) in zip(first.outcomes, whole.outcomes, strict=True):
        if isinstance(before, Applied):
            assert isinstance(after, Rejected) and after.code == "DUPLICATE_EVENT"


@SETTINGS
@given(histories, st.integers(0, 64))
def test_folding_in_batches_equals_folding_at_once(events: list[Event], cut: int) -> None:
    whole = fold(empty_state(), events)
    prefix = fold(empty_state(), events[:cut])
    rest = fold(prefix.state, events[cut:])
    assert rest.state == whole.state
    assert prefix.outcomes + rest.outcomes == whole.outcomes


@SETTINGS
@given(histories, st.integers(0, 64))
def test_the_input_state_is_never_mutated(events: list[Event], cut: int) -> None:
    built = fold(empty_state(), events[:cut]).state
    # Plain dicts, as the PostgreSQL store builds them: nothing protects them but the fold.
    state = LedgerState(dict(built.orders), dict(built.targets), built.seen_event_ids)
    snapshot = (dict(state.orders), dict(state.targets), frozenset(state.seen_event_ids))
    for event in events[cut:]:
        decide(state, event)
    fold(state, events[cut:])
    assert (dict(state.orders), dict(state.targets), state.seen_event_ids) == snapshot


@SETTINGS
@given(histories)
def test_decide_agrees_with_fold(events: list[Event]) -> None:
    state = empty_state()
    for event, outcome in fold(empty_state(), events).outcomes:
        assert decide(state, event) == outcome
        state = fold(state, [event]).state
