"""Totals that reconcile: a zero row for an empty range, the FX column, calibre "none"."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

import pytest

from procledger.domain.events import OrderPlaced, PaymentRecorded
from procledger.domain.money import order_value
from procledger.scenario.story import story_events
from procledger_dev.stack.config import StackConfig

from .audit_support import Story, audit, story_ledger

ZEROS = {
    "ordered_quantity": 0, "ordered_value_usd": "0.00", "delivered_quantity": 0,
    "paid_usd": "0.00", "fx_difference_usd": "0.00", "orders": 0,
}  # fmt: skip


@pytest.fixture
def story(stack: StackConfig) -> Story:
    return story_ledger(stack)


def test_nothing_in_range_is_one_row_of_zeros_on_every_path(story: Story) -> None:
    for clocks in ((), ("--as-of", "2100-01-01T00:00:00Z")):
        run = audit(story.ledger, "totals", "--from", "1999-01-01", "--to", "1999-12-31", *clocks)
        assert run.code == 0 and run.json() == [ZEROS], run.out + run.err
    table = audit(story.ledger, "totals", "--year", "1999", "--format", "table").out.splitlines()
    assert len(table) == 3 and table[2].split() == ["0", "0.00", "0", "0.00", "0.00", "0"]
    # Grouped, an empty range has no groups: still a valid, empty answer.
    assert audit(story.ledger, "totals", "--by", "buyer", "--year", "1999").json() == []


def test_fx_difference_reconciles_paid_with_the_placement_rates(story: Story) -> None:
    """paid_usd - fx_difference_usd = every payment at its order's placement rate."""
    events = story_events()
    rate = {e.order_id: e.usd_rate for e in events if isinstance(e, OrderPlaced)}
    buyer = {e.order_id: e.buyer for e in events if isinstance(e, OrderPlaced)}
    at_placement: dict[str, Decimal] = {}
    at_payment: dict[str, Decimal] = {}
    for e in events:
        if isinstance(e, PaymentRecorded):  # the story's payments are all applied
            b = buyer[e.order_id]
            at_placement[b] = at_placement.get(b, Decimal(0)) + order_value(
                1, e.amount, rate[e.order_id]
            )
            at_payment[b] = at_payment.get(b, Decimal(0)) + order_value(1, e.amount, e.usd_rate)
    for clocks in ((), ("--as-of", "2100-01-01T00:00:00Z")):
        rows = audit(story.ledger, "totals", "--by", "buyer", *clocks).json()
        by_buyer = {r["buyer"]: r for r in rows if Decimal(r["paid_usd"])}
        assert set(by_buyer) == set(at_placement)
        for b, row in by_buyer.items():
            assert Decimal(row["paid_usd"]) == at_payment[b]
            paid_at_placement = Decimal(row["paid_usd"]) - Decimal(row["fx_difference_usd"])
            assert paid_at_placement == at_placement[b], b
    whole = audit(story.ledger, "totals").json()[0]
    assert Decimal(whole["fx_difference_usd"]) != 0  # the story's rates moved
    assert Decimal(whole["fx_difference_usd"]) == sum(at_payment.values()) - sum(
        at_placement.values()
    )


def test_items_without_a_calibre_read_none_in_table_and_csv(story: Story) -> None:
    table = audit(story.ledger, "totals", "--by", "caliber_mm", "--format", "table").out
    assert table.splitlines()[-1].split()[0] == "none"
    rows = list(csv.DictReader(io.StringIO(audit(story.ledger, "totals", "--by", "caliber_mm",
                                                 "--format", "csv").out)))  # fmt: skip
    assert [r["caliber_mm"] for r in rows][-1] == "none"
    assert "" not in [r["caliber_mm"] for r in rows]
    # JSON keeps the typed null a program expects.
    assert audit(story.ledger, "totals", "--by", "caliber_mm").json()[-1]["caliber_mm"] is None


def test_months_paid_above_ordered_reconcile_once_fx_is_taken_off(story: Story) -> None:
    rows = audit(story.ledger, "totals", "--by", "month").json()
    above = [r for r in rows if Decimal(r["paid_usd"]) > Decimal(r["ordered_value_usd"])]
    assert above  # the story's payments at later rates do this (issue 15)
    for r in rows:
        at_placement = Decimal(r["paid_usd"]) - Decimal(r["fx_difference_usd"])
        assert at_placement <= Decimal(r["ordered_value_usd"]), r["month"]
