"""Exact money: Decimal only, half-even rounding to cents at order level."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal

CENT = Decimal("0.01")

# Enough digits for quantity (up to 19 digits) * price * rate without any inexact step.
_CTX = Context(prec=60)


def to_cents(amount: Decimal) -> Decimal:
    """Round an amount to cents, half-even (banker's rounding), never through floats."""
    return amount.quantize(CENT, rounding=ROUND_HALF_EVEN, context=_CTX)


def order_value(quantity: int, unit_price: Decimal, rate: Decimal = Decimal(1)) -> Decimal:
    """The value rule: round(quantity * unit_price * rate, 2), half-even, exact in between."""
    product = _CTX.multiply(_CTX.multiply(Decimal(quantity), unit_price), rate)
    return to_cents(product)


def cents_str(amount: Decimal) -> str:
    """Money as a decimal string with exactly two places, as JSON and CSV carry it."""
    return str(to_cents(amount))
