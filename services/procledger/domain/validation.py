"""Field rules every event must pass before it reaches the ledger: pure, no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation
from functools import cache

from procledger.domain import events as ev
from procledger.domain.reference import COUNTRIES_ALPHA3, CURRENCIES

# The Avro schemas' decimal (precision, scale) per field name; test_validation checks every
# .avsc file against this table, so the two cannot drift apart.
DECIMAL_LIMITS: dict[str, tuple[int, int]] = {
    "unit_price": (18, 4),
    "amount": (18, 2),
    "usd_rate": (18, 8),
}
LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1
MAX_ID_LENGTH = 64
MAX_TEXT_LENGTH = 1000
# A FieldError quotes the offending value, cut short so a journal row stays small.
MAX_VALUE_REPR = 100

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_NSN = re.compile(r"[0-9]{4}-?[0-9]{2}-?[0-9]{3}-?[0-9]{4}")
# Ids allow no control characters at all; text may hold tabs and line breaks. Both refuse NUL
# (PostgreSQL JSONB cannot store it) and lone surrogates (not encodable as UTF-8).
_BAD_ID_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")
_BAD_TEXT_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class FieldError:
    """One broken rule: the field, why, and a short repr of the value found."""

    field: str
    reason: str
    value: str


@cache
def _decimal_context(precision: int) -> Context:
    # Quantize signals InvalidOperation when the result needs more than `precision` digits and
    # Inexact when a non-zero digit would be dropped: exactly "does not fit the schema".
    return Context(prec=precision, traps=[InvalidOperation, Inexact])


@cache
def _quantum(scale: int) -> Decimal:
    return Decimal(1).scaleb(-scale)


def decimal_fits(value: Decimal, precision: int, scale: int) -> bool:
    """True if `value` is exactly representable as Avro decimal(precision, scale)."""
    if not value.is_finite():
        return False
    try:
        value.quantize(_quantum(scale), context=_decimal_context(precision))
    except DecimalException:
        return False
    return True


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= MAX_VALUE_REPR else text[: MAX_VALUE_REPR - 3] + "..."


class _Checks:
    """Collects FieldErrors; each method checks one field against one kind of rule."""

    __slots__ = ("errors",)

    def __init__(self) -> None:
        self.errors: list[FieldError] = []

    def fail(self, field: str, reason: str, value: object) -> None:
        self.errors.append(FieldError(field, reason, _show(value)))

    def uuid(self, field: str, value: object) -> None:
        if not isinstance(value, str) or not _UUID.fullmatch(value):
            self.fail(field, "must be a lowercase canonical UUID string", value)

    def instant(self, field: str, value: object, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        if not isinstance(value, datetime):
            self.fail(field, "must be a datetime", value)
        elif value.utcoffset() is None:
            self.fail(field, "must be timezone-aware", value)

    def ident(self, field: str, value: object, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str):
            self.fail(field, "must be a string", value)
        elif not value:
            self.fail(field, "must not be empty", value)
        elif len(value) > MAX_ID_LENGTH:
            self.fail(field, f"must be at most {MAX_ID_LENGTH} characters", value)
        elif value != value.strip():
            self.fail(field, "must not start or end with whitespace", value)
        elif _BAD_ID_CHARS.search(value):
            self.fail(field, "must not contain control or surrogate characters", value)

    def text(self, field: str, value: object) -> None:
        if not isinstance(value, str):
            self.fail(field, "must be a string", value)
        elif not value.strip():
            self.fail(field, "must not be empty or blank", value)
        elif len(value) > MAX_TEXT_LENGTH:
            self.fail(field, f"must be at most {MAX_TEXT_LENGTH} characters", value)
        elif _BAD_TEXT_CHARS.search(value):
            self.fail(field, "must not contain control or surrogate characters", value)

    def country(self, field: str, value: object, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        if not isinstance(value, str) or value not in COUNTRIES_ALPHA3:
            self.fail(field, "must be an ISO 3166-1 alpha-3 country code", value)

    def currency(self, field: str, value: object) -> None:
        if not isinstance(value, str) or value not in CURRENCIES:
            self.fail(field, "must be an ISO 4217 currency code", value)

    def long(self, field: str, value: object, minimum: int, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        # bool is an int subclass, but True is never a quantity.
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail(field, "must be an integer", value)
        elif not LONG_MIN <= value <= LONG_MAX:
            self.fail(field, "must fit a signed 64-bit long", value)
        elif value < minimum:
            self.fail(field, f"must be at least {minimum}", value)

    def positive_decimal(self, field: str, value: object, *, optional: bool = False) -> None:
        if value is None and optional:
            return
        precision, scale = DECIMAL_LIMITS[field]
        if not isinstance(value, Decimal):
            self.fail(field, "must be a Decimal", value)
        elif not value.is_finite():
            self.fail(field, "must be finite", value)
        elif not decimal_fits(value, precision, scale):
            digits = precision - scale
            self.fail(
                field,
                f"must fit decimal({precision},{scale}): at most {digits} integer digits "
                f"and {scale} decimal places",
                value,
            )
        elif value <= 0:
            self.fail(field, "must be greater than 0", value)


def _common(c: _Checks, e: ev.Event) -> None:
    c.uuid("event_id", e.event_id)
    c.instant("occurred_at", e.occurred_at)


def _placed(c: _Checks, e: ev.OrderPlaced) -> None:
    c.ident("order_id", e.order_id)
    c.country("buyer", e.buyer)
    c.text("supplier", e.supplier)
    c.text("item_description", e.item_description)
    c.long("caliber_mm", e.caliber_mm, 1, optional=True)
    c.long("quantity", e.quantity, 1)
    c.positive_decimal("unit_price", e.unit_price)
    c.currency("currency", e.currency)
    c.positive_decimal("usd_rate", e.usd_rate)
    if not isinstance(e.purpose, ev.Purpose):
        c.fail("purpose", "must be one of " + ", ".join(ev.Purpose.__members__), e.purpose)
    c.country("destination", e.destination, optional=True)
    c.country("supplier_country", e.supplier_country, optional=True)
    c.ident("contract_ref", e.contract_ref, optional=True)
    if e.nsn is not None and (not isinstance(e.nsn, str) or not _NSN.fullmatch(e.nsn)):
        c.fail("nsn", "must be a 13-digit NATO Stock Number like 1320-12-345-6789", e.nsn)
    c.instant("expected_delivery", e.expected_delivery, optional=True)


def _amended(c: _Checks, e: ev.OrderAmended) -> None:
    c.ident("order_id", e.order_id)
    if e.quantity is None and e.unit_price is None:
        c.fail("quantity", "an amendment must set quantity, unit_price or both", None)
    c.long("quantity", e.quantity, 1, optional=True)
    c.positive_decimal("unit_price", e.unit_price, optional=True)
    c.text("reason", e.reason)


def _cancelled(c: _Checks, e: ev.OrderCancelled) -> None:
    c.ident("order_id", e.order_id)
    c.text("reason", e.reason)


def _delivered(c: _Checks, e: ev.DeliveryRecorded) -> None:
    c.ident("order_id", e.order_id)
    c.ident("delivery_id", e.delivery_id)
    c.long("quantity", e.quantity, 1)
    c.country("destination", e.destination, optional=True)


def _paid(c: _Checks, e: ev.PaymentRecorded) -> None:
    c.ident("order_id", e.order_id)
    c.ident("payment_id", e.payment_id)
    c.positive_decimal("amount", e.amount)
    c.currency("currency", e.currency)
    c.positive_decimal("usd_rate", e.usd_rate)


def _target(c: _Checks, e: ev.StockpileTargetSet) -> None:
    c.country("country", e.country)
    c.long("caliber_mm", e.caliber_mm, 1)
    c.long("target_quantity", e.target_quantity, 0)
    c.text("authority", e.authority)


def validate(event: ev.Event) -> list[FieldError]:
    """Every broken field rule of one event, in field order; an empty list means valid."""
    checks = _Checks()
    match event:
        case ev.OrderPlaced():
            _common(checks, event)
            _placed(checks, event)
        case ev.OrderAmended():
            _common(checks, event)
            _amended(checks, event)
        case ev.OrderCancelled():
            _common(checks, event)
            _cancelled(checks, event)
        case ev.DeliveryRecorded():
            _common(checks, event)
            _delivered(checks, event)
        case ev.PaymentRecorded():
            _common(checks, event)
            _paid(checks, event)
        case ev.StockpileTargetSet():
            _common(checks, event)
            _target(checks, event)
        case _:
            checks.fail("type", "not an event type", type(event).__name__)
    return checks.errors
