"""The money rule against exact rational arithmetic: half-even to cents, nothing inexact before."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

from hypothesis import example, given
from hypothesis import strategies as st

from procledger.domain.money import cents_str, order_value, to_cents


def _cents(exact: Fraction) -> Decimal:
    """`exact` rounded half-even to cents: round() of a Fraction ties to the even integer."""
    return Decimal(f"{round(exact * 100)}E-2")  # exact: a string is never rounded


# The schemas' ranges: quantity an Avro long, unit price decimal(18, 4), rate decimal(18, 8).
LONG_MAX = 2**63 - 1
WIDEST_PRICE = Decimal("99999999999999.9999")
WIDEST_RATE = Decimal("9999999999.99999999")
quantities = st.integers(min_value=0, max_value=LONG_MAX)
prices = st.decimals(min_value=Decimal("0.0001"), max_value=WIDEST_PRICE, places=4)
rates = st.decimals(min_value=Decimal("0.00000001"), max_value=WIDEST_RATE, places=8)


@given(quantities, prices, rates)
# The widest product the schemas allow: 55 digits before rounding, within the context's 60.
@example(LONG_MAX, WIDEST_PRICE, WIDEST_RATE)
def test_order_value_is_the_exact_product_rounded_half_even(
    quantity: int, price: Decimal, rate: Decimal
) -> None:
    value = order_value(quantity, price, rate)
    assert value == _cents(quantity * Fraction(price) * Fraction(rate))
    assert value.as_tuple().exponent == -2


@given(quantities, prices)
def test_order_value_without_a_rate_is_in_the_order_currency(quantity: int, price: Decimal) -> None:
    assert order_value(quantity, price) == _cents(quantity * Fraction(price))


def test_ties_go_to_the_even_cent() -> None:
    assert order_value(1, Decimal("0.125")) == Decimal("0.12")
    assert order_value(1, Decimal("0.135")) == Decimal("0.14")
    assert order_value(3, Decimal("0.005")) == Decimal("0.02")  # 0.015
    assert to_cents(Decimal("-2.345")) == Decimal("-2.34")
    assert cents_str(Decimal("7")) == "7.00"
