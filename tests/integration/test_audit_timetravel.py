"""Time travel answers as one full fold of what the clocks see would, on either path."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from procledger.adapters.postgres.audit_reader import Connection, connect
from procledger.audit.filters import Clocks, OrderFilter
from procledger.audit.queries import order_row, orders, stockpile, target_row, totals
from procledger.audit.timetravel import event_of, journal_rows, unseen
from procledger.domain.ledger import Applied, empty_state, fold
from procledger.domain.money import cents_str
from procledger.domain.postings import FX_DIFFERENCE
from procledger.domain.projections import DIMENSIONS
from procledger.domain.projections import totals as domain_totals
from procledger.domain.state import LedgerState
from procledger.scenario.synthetic import synthetic_events
from procledger_dev.stack.config import StackConfig
from tests.plugins.ledger import LedgerEnv

from .audit_support import new_ledger

RUNS = 3  # consumer runs, so record time has steps to travel to
BYS = ((), ("buyer",), ("buyer", "month"), ("supplier", "caliber_mm", "purpose", "currency"))
FILTERS = (OrderFilter(), OrderFilter(caliber_mm=155))


class Ledger:
    """A synthetic ledger consumed in RUNS runs, with the instants between them."""

    def __init__(self, ledger: LedgerEnv, cuts: list[datetime]) -> None:
        self.env = ledger
        self.cuts = cuts  # before the first run, between runs, after the last
        with connect(ledger.env["AUDIT_DATABASE_URL"]) as conn:
            found = conn.execute(
                "SELECT min(occurred_at), max(occurred_at) FROM audit.journal"
            ).fetchone()
        assert found is not None
        self.first, self.last = found


def consumed_in_runs(
    stack: StackConfig, seed: int, after_run: Callable[[LedgerEnv, datetime], None] | None = None
) -> Ledger:
    """3,000 synthetic events consumed in RUNS runs; `after_run(env, cut)` after each but the
    last."""
    env = new_ledger(stack)
    events = list(synthetic_events(3000, seed=seed))
    cuts = [datetime.now(UTC)]
    step = len(events) // RUNS
    for run in range(RUNS):
        env.publish(events[run * step : (run + 1) * step if run < RUNS - 1 else None])
        env.consume(until_idle=1.0)
        cuts.append(datetime.now(UTC))
        if after_run is not None and run < RUNS - 1:
            after_run(env, cuts[-1])
    return Ledger(env, cuts)


@pytest.fixture(scope="module")
def ledger(stack: StackConfig) -> Ledger:
    return consumed_in_runs(stack, seed=23)


def _oracle(conn: Connection, by: tuple[str, ...], flt: OrderFilter, clocks: Clocks) -> Any:
    """One fold of every journal row the clocks see, from an empty ledger: the definition."""
    result = fold(empty_state(), [event_of(r) for r in journal_rows(conn, clocks)])
    fx: dict[str, Decimal] = {}
    for _event, outcome in result.outcomes:
        if isinstance(outcome, Applied):
            for p in outcome.postings:
                if p.account == FX_DIFFERENCE:
                    amount = p.amount_usd if p.side == "D" else -p.amount_usd
                    fx[p.order_id] = fx.get(p.order_id, Decimal(0)) + amount
    scoped = {k: o for k, o in result.state.orders.items() if flt.matches(o)}
    rows = []
    for t in domain_totals(LedgerState(scoped, {}, frozenset()), by):
        key = tuple(value for _, value in t.key)
        fx_usd = sum(
            (fx.get(o.order_id, Decimal(0)) for o in scoped.values()
             if tuple(DIMENSIONS[d](o) for d in by) == key),
            Decimal(0),
        )  # fmt: skip
        rows.append({
            **dict(t.key), "ordered_quantity": t.ordered_quantity,
            "ordered_value_usd": cents_str(t.ordered_value_usd),
            "delivered_quantity": t.delivered_quantity, "paid_usd": cents_str(t.paid_usd),
            "fx_difference_usd": cents_str(fx_usd), "orders": t.orders,
        })  # fmt: skip
    return rows


def _check_views(conn: Connection, clocks: Clocks) -> None:
    """The orders list (whole and paged) and the stockpile agree with one full fold."""
    state = fold(empty_state(), [event_of(r) for r in journal_rows(conn, clocks)]).state
    for flt in FILTERS:
        matching = sorted(
            (o for o in state.orders.values() if flt.matches(o)),
            key=lambda o: (o.placed_at, o.order_id),
        )
        expected = [order_row(o) for o in matching]
        whole = orders(conn, flt, clocks, None)
        assert (whole.rows, whole.total) == (expected, len(expected)), (flt, clocks)
        page = orders(conn, flt, clocks, 7, 5)
        assert (page.rows, page.total) == (expected[5:12], len(expected)), (flt, clocks)
    sums: dict[tuple[str, int | None], list[int]] = {}
    for o in state.orders.values():
        acc = sums.setdefault((o.buyer, o.caliber_mm), [0, 0])
        acc[0] += o.quantity
        acc[1] += o.delivered_quantity
    expected_stock = []
    for (country, caliber), t in sorted(state.targets.items()):
        ordered, delivered = sums.get((country, caliber), [0, 0])
        expected_stock.append({**target_row(t), "ordered_quantity": ordered,
                               "delivered_quantity": delivered,
                               "gap": t.target_quantity - delivered})  # fmt: skip
    assert stockpile(conn, OrderFilter(), clocks).rows == expected_stock, clocks


def _check(ledger: Ledger, clocks: Clocks) -> bool:
    """Every grouping and filter agrees with the oracle, and so do the orders list and the
    stockpile; True when only changed orders were re-folded (a base answered for the rest)."""
    with connect(ledger.env.env["AUDIT_DATABASE_URL"]) as conn:
        for by in BYS:
            for flt in FILTERS:
                expected = _oracle(conn, by, flt, clocks)
                got = totals(conn, by, flt, clocks).rows
                if expected or by:
                    assert got == expected, (by, flt, clocks)
                else:
                    assert [r["orders"] for r in got] == [0]
        _check_views(conn, clocks)
        past = unseen(conn, clocks)
        return 2 * past.rows <= past.journal_rows


def test_record_time_between_runs_on_both_paths(ledger: Ledger) -> None:
    paths = {_check(ledger, Clocks(known_at=cut)) for cut in ledger.cuts}
    assert paths == {True, False}  # both the backward and the forward fold were exercised


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    business=st.floats(min_value=-0.05, max_value=1.05),
    record=st.one_of(st.none(), st.integers(min_value=0, max_value=RUNS)),
)
def test_any_pair_of_clocks_answers_as_the_full_fold(
    ledger: Ledger, business: float, record: int | None
) -> None:
    span = (ledger.last - ledger.first).total_seconds()
    as_of = ledger.first + timedelta(seconds=span * business)
    known_at = None if record is None else ledger.cuts[record]
    _check(ledger, Clocks(as_of=as_of, known_at=known_at))
