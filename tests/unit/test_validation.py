"""Field validation: every rule, every field made invalid in turn; the reference code sets."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from procledger.domain.events import Event
from procledger.domain.reference import (
    COUNTRIES_ALPHA3,
    CURRENCIES,
    CURRENCIES_ACTIVE,
    NATO_MEMBERS_2023,
    is_country,
    is_currency,
)
from procledger.domain.validation import (
    LONG_MAX,
    LONG_MIN,
    MAX_ID_LENGTH,
    MAX_TEXT_LENGTH,
    FieldError,
    decimal_fits,
    validate,
)
from tests.unit.event_samples import (
    AMENDED,
    AMENDED_PRICE_ONLY,
    CANCELLED,
    DELIVERED,
    PAID,
    PLACED,
    SAMPLES,
    TARGET,
)

NAIVE = datetime(2023, 6, 15, 9, 30)


@pytest.mark.parametrize("name", list(SAMPLES))
def test_samples_are_valid(name: str) -> None:
    assert validate(SAMPLES[name]) == []


def _bad(event: Event, field: str, value: Any, reason: str) -> Any:
    return pytest.param(event, field, value, reason, id=f"{type(event).__name__}.{field}={value!r}")


ID_CASES = [
    ("", "must not be empty"),
    ("x" * (MAX_ID_LENGTH + 1), f"at most {MAX_ID_LENGTH}"),
    (" A-1", "whitespace"),
    ("A\x00B", "control"),
    ("A\nB", "control"),
    (17, "must be a string"),
]
TEXT_CASES = [
    ("", "must not be empty"),
    ("   \n", "must not be empty"),
    ("x" * (MAX_TEXT_LENGTH + 1), f"at most {MAX_TEXT_LENGTH}"),
    ("nul\x00here", "control"),
    ("lone \udc80", "surrogate"),
    (None, "must be a string"),
]
UUID_CASES = [
    ("not-a-uuid", "UUID"),
    ("6F1C2A3E-9B7D-5E41-8C2F-155155155155", "lowercase"),
    ("6f1c2a3e9b7d5e418c2f155155155155", "UUID"),
    ("{6f1c2a3e-9b7d-5e41-8c2f-155155155155}", "UUID"),
    (None, "UUID"),
]
INSTANT_CASES = [(NAIVE, "timezone-aware"), ("2023-06-15T09:30:00Z", "must be a datetime")]
COUNTRY_CASES = [("deu", "alpha-3"), ("DE", "alpha-3"), ("XKX", "alpha-3"), (276, "alpha-3")]
CURRENCY_CASES = [("eur", "ISO 4217"), ("EURO", "ISO 4217"), ("XYZ", "ISO 4217"), (None, "4217")]
POSITIVE_LONG_CASES = [
    (0, "at least 1"),
    (-5, "at least 1"),
    (LONG_MAX + 1, "64-bit"),
    (LONG_MIN - 1, "64-bit"),
    (True, "integer"),
    (2.0, "integer"),
    ("5", "integer"),
]


def _decimal_cases(precision: int, scale: int) -> list[tuple[Any, str]]:
    return [
        (Decimal(0), "greater than 0"),
        (Decimal("-1"), "greater than 0"),
        (Decimal(1).scaleb(-scale - 1), f"decimal({precision},{scale})"),
        (Decimal(10) ** (precision - scale), f"decimal({precision},{scale})"),
        (Decimal("NaN"), "finite"),
        (Decimal("-Infinity"), "finite"),
        (1.5, "must be a Decimal"),
        (3, "must be a Decimal"),
    ]


def _cases() -> list[Any]:
    cases: list[Any] = []
    for event in SAMPLES.values():
        cases += [_bad(event, "event_id", v, r) for v, r in UUID_CASES]
        cases += [_bad(event, "occurred_at", v, r) for v, r in INSTANT_CASES]
    e: Event = PLACED
    for field in ("order_id", "contract_ref"):
        cases += [_bad(e, field, v, r) for v, r in ID_CASES]
    for field in ("buyer", "destination", "supplier_country"):
        cases += [_bad(e, field, v, r) for v, r in COUNTRY_CASES]
    for field in ("supplier", "item_description"):
        cases += [_bad(e, field, v, r) for v, r in TEXT_CASES]
    for field in ("caliber_mm", "quantity"):
        cases += [_bad(e, field, v, r) for v, r in POSITIVE_LONG_CASES]
    cases += [_bad(e, "unit_price", v, r) for v, r in _decimal_cases(18, 4)]
    cases += [_bad(e, "usd_rate", v, r) for v, r in _decimal_cases(18, 8)]
    cases += [_bad(e, "currency", v, r) for v, r in CURRENCY_CASES]
    cases += [_bad(e, "purpose", "OTHER", "must be one of"), _bad(e, "purpose", None, "one of")]
    cases += [_bad(e, "nsn", v, "NATO Stock Number") for v in ("1320-12-345-678", "abc", 13)]
    cases += [_bad(e, "nsn", "١٣٢٠١٢٣٤٥٦٧٨٩", "NATO Stock Number")]
    cases += [_bad(e, "expected_delivery", v, r) for v, r in INSTANT_CASES]
    e = AMENDED
    cases += [_bad(e, "order_id", v, r) for v, r in ID_CASES]
    cases += [_bad(e, "quantity", v, r) for v, r in POSITIVE_LONG_CASES]
    cases += [_bad(e, "unit_price", v, r) for v, r in _decimal_cases(18, 4)]
    cases += [_bad(e, "reason", v, r) for v, r in TEXT_CASES]
    e = CANCELLED
    cases += [_bad(e, "order_id", v, r) for v, r in ID_CASES]
    cases += [_bad(e, "reason", v, r) for v, r in TEXT_CASES]
    e = DELIVERED
    for field in ("order_id", "delivery_id"):
        cases += [_bad(e, field, v, r) for v, r in ID_CASES]
    cases += [_bad(e, "quantity", v, r) for v, r in POSITIVE_LONG_CASES]
    cases += [_bad(e, "destination", v, r) for v, r in COUNTRY_CASES]
    e = PAID
    for field in ("order_id", "payment_id"):
        cases += [_bad(e, field, v, r) for v, r in ID_CASES]
    cases += [_bad(e, "amount", v, r) for v, r in _decimal_cases(18, 2)]
    cases += [_bad(e, "currency", v, r) for v, r in CURRENCY_CASES]
    cases += [_bad(e, "usd_rate", v, r) for v, r in _decimal_cases(18, 8)]
    e = TARGET
    cases += [_bad(e, "country", v, r) for v, r in COUNTRY_CASES]
    cases += [_bad(e, "caliber_mm", v, r) for v, r in POSITIVE_LONG_CASES]
    cases += [_bad(e, "authority", v, r) for v, r in TEXT_CASES]
    cases += [_bad(e, "target_quantity", -1, "at least 0")]
    cases += [_bad(e, "target_quantity", LONG_MAX + 1, "64-bit")]
    cases += [_bad(e, "target_quantity", False, "integer")]
    return cases


@pytest.mark.parametrize(("event", "field", "value", "reason"), _cases())
def test_each_field_invalid_in_turn(event: Event, field: str, value: Any, reason: str) -> None:
    errors = validate(dataclasses.replace(event, **{field: value}))
    assert [e.field for e in errors] == [field], errors
    assert reason in errors[0].reason
    assert errors[0].value == repr(value)[:100] or errors[0].value.endswith("...")


@pytest.mark.parametrize(
    ("event", "field", "value"),
    [
        (PLACED, "caliber_mm", None),
        (PLACED, "destination", None),
        (PLACED, "supplier_country", None),
        (PLACED, "contract_ref", None),
        (PLACED, "nsn", None),
        (PLACED, "nsn", "1320123456789"),
        (PLACED, "expected_delivery", None),
        (PLACED, "buyer", "UKR"),
        (PLACED, "supplier_country", "KOR"),
        (PLACED, "currency", "BGN"),
        (PLACED, "unit_price", Decimal("99999999999999.9999")),
        (PLACED, "unit_price", Decimal("0.0001")),
        (PLACED, "unit_price", Decimal("3000.500000000")),
        (PLACED, "quantity", LONG_MAX),
        (AMENDED, "quantity", None),
        (AMENDED, "unit_price", None),
        (DELIVERED, "destination", None),
        (TARGET, "target_quantity", 0),
        (CANCELLED, "reason", "tab\tand\r\nnewlines are fine in text"),
    ],
)
def test_allowed_values(event: Event, field: str, value: Any) -> None:
    assert validate(dataclasses.replace(event, **{field: value})) == []


def test_an_amendment_must_change_something() -> None:
    errors = validate(dataclasses.replace(AMENDED_PRICE_ONLY, unit_price=None))
    assert [(e.field, e.reason) for e in errors] == [
        ("quantity", "an amendment must set quantity, unit_price or both")
    ]


def test_all_errors_are_reported_in_field_order() -> None:
    event = dataclasses.replace(PLACED, event_id="x", buyer="??", quantity=0, currency="$$")
    assert [e.field for e in validate(event)] == ["event_id", "buyer", "quantity", "currency"]


def test_long_values_are_cut_short_in_errors() -> None:
    [error] = validate(dataclasses.replace(CANCELLED, reason="y" * 5000))
    assert len(error.value) == 100
    assert error.value.endswith("...")


def test_non_events_are_reported() -> None:
    assert validate("OrderPlaced") == [  # type: ignore[arg-type]
        FieldError("type", "not an event type", "'str'")
    ]


@pytest.mark.parametrize(
    ("value", "precision", "scale", "expected"),
    [
        (Decimal("99999999999999.9999"), 18, 4, True),
        (Decimal("100000000000000"), 18, 4, False),
        (Decimal("1.00000"), 18, 4, True),
        (Decimal("1.00001"), 18, 4, False),
        (Decimal("-0"), 18, 2, True),
        (Decimal("0E-30"), 18, 2, True),
        (Decimal("1E-30"), 18, 2, False),
        (Decimal("1E+15"), 18, 2, True),
        (Decimal("1E+16"), 18, 2, False),
        (Decimal("sNaN"), 18, 2, False),
        (Decimal("Infinity"), 18, 2, False),
    ],
)
def test_decimal_fits(value: Decimal, precision: int, scale: int, expected: bool) -> None:
    assert decimal_fits(value, precision, scale) is expected


# --- reference data ------------------------------------------------------------------------


def test_country_codes_are_the_249_assigned_alpha3_codes() -> None:
    assert len(COUNTRIES_ALPHA3) == 249
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in COUNTRIES_ALPHA3)
    assert {"DEU", "UKR", "USA", "KOR", "TWN", "PSE", "ATA", "SXM"} <= COUNTRIES_ALPHA3
    assert not {"XKX", "EUR", "ANT", "SCG", "UK"} & COUNTRIES_ALPHA3


def test_currency_codes() -> None:
    assert len(CURRENCIES_ACTIVE) == 178
    assert CURRENCIES_ACTIVE <= CURRENCIES
    assert {"USD", "EUR", "GBP", "PLN", "NOK", "CAD", "DKK", "CZK", "UAH", "XCG"} <= CURRENCIES
    # Active during 2023, withdrawn since: still valid for the story's events.
    assert {"BGN", "ANG", "SLL", "ZWL"} <= CURRENCIES - CURRENCIES_ACTIVE
    assert not {"HRK", "DEM", "FRF", "BTC"} & CURRENCIES
    assert all(len(c) == 3 and c.isascii() and c.isupper() for c in CURRENCIES)


def test_nato_members_in_june_2023() -> None:
    assert len(NATO_MEMBERS_2023) == len(set(NATO_MEMBERS_2023)) == 31
    assert set(NATO_MEMBERS_2023) <= COUNTRIES_ALPHA3
    assert "FIN" in NATO_MEMBERS_2023
    assert "SWE" not in NATO_MEMBERS_2023
    assert "UKR" not in NATO_MEMBERS_2023


def test_code_predicates() -> None:
    assert is_country("UKR")
    assert not is_country("ukr")
    assert not is_country(None)
    assert is_currency("EUR")
    assert not is_currency(978)
