"""JSON Lines and CSV input: good files, each bad line named by number and field, limits."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from procledger.codec.avro import canonical_json, event_to_json_dict
from procledger.codec.errors import InvalidEventData
from procledger.codec.schemas import default_registry
from procledger.codec.textformats import (
    FLOAT_REASON,
    LINE,
    LineError,
    ParsedLine,
    event_from_json_dict,
    event_to_jsonl,
    read_jsonl,
    read_orders_csv,
    strict_json_loads,
)
from procledger.domain.chain import canonical_payload
from procledger.domain.events import OrderPlaced, event_type
from procledger.domain.validation import FieldError
from tests.unit.event_samples import AMENDED_PRICE_ONLY, PLACED, PLACED_MINIMAL, SAMPLES


def _errors(parsed: list[ParsedLine]) -> list[tuple[int, str, str]]:
    return [(e.line, e.field, e.reason) for p in parsed for e in p.errors]


def _line(**changes: object) -> str:
    record = json.loads(event_to_jsonl(PLACED))
    for key, value in changes.items():
        if value is KeyError:
            del record[key]
        else:
            record[key] = value
    return json.dumps(record)


# --- JSON Lines ----------------------------------------------------------------------------


def test_good_file_round_trips_every_type() -> None:
    text = "\n".join(event_to_jsonl(e) for e in SAMPLES.values()) + "\n"
    parsed = list(read_jsonl(io.StringIO(text)))
    assert [p.errors for p in parsed] == [()] * len(SAMPLES)
    assert [p.event for p in parsed] == list(SAMPLES.values())
    assert [p.line for p in parsed] == list(range(1, len(SAMPLES) + 1))


def test_a_line_filter_skips_lines_before_parsing_them() -> None:
    good = [event_to_jsonl(e) for e in SAMPLES.values()]
    # Line 2 is not JSON: a reader told to skip it never parses it, so reports nothing.
    text = "\n".join([good[0], "{not json", *good[1:]]) + "\n"
    kept = list(read_jsonl(io.StringIO(text), keep=lambda n: n != 2))
    assert [p.line for p in kept] == [1, *range(3, len(good) + 2)]
    assert all(p.event is not None for p in kept)
    odd = list(read_jsonl(io.StringIO(text), keep=lambda n: n % 2 == 1))
    assert [p.line for p in odd] == list(range(1, len(good) + 2, 2))


def test_jsonl_record_shape() -> None:
    record = json.loads(event_to_jsonl(PLACED))
    assert next(iter(record)) == "type"
    assert record["type"] == "OrderPlaced"
    assert record["unit_price"] == "3000.5000"
    assert record["occurred_at"] == "2023-06-15T09:30:00.123456Z"
    # 12:00 at UTC+2 is 10:00 UTC.
    assert record["expected_delivery"] == "2024-01-31T10:00:00.000000Z"
    assert "\n" not in event_to_jsonl(SAMPLES["cancelled"])


def test_blank_lines_are_skipped_and_crlf_is_accepted() -> None:
    text = "\r\n" + event_to_jsonl(PLACED) + "\r\n\r\n   \n" + event_to_jsonl(PLACED_MINIMAL)
    parsed = list(read_jsonl(io.StringIO(text, newline="")))
    assert [(p.line, p.event) for p in parsed] == [(2, PLACED), (5, PLACED_MINIMAL)]


BAD_LINES: list[tuple[str, str, str]] = [
    (_line(unit_price=3000.5), "unit_price", FLOAT_REASON),
    (_line(usd_rate="@").replace('"@"', "1e400"), "usd_rate", FLOAT_REASON),
    (_line(usd_rate="@").replace('"@"', "1.5"), "usd_rate", FLOAT_REASON),
    (_line(unit_price="3,000.50"), "unit_price", "decimal string"),
    (_line(unit_price=" 3000"), "unit_price", "decimal string"),
    (_line(unit_price="1_000"), "unit_price", "decimal string"),
    (_line(unit_price="NaN"), "unit_price", "decimal string"),
    (_line(unit_price=None), "unit_price", "must not be null"),
    (_line(unit_price="0.00001"), "unit_price", "decimal(18,4)"),
    (_line(unit_price="-5"), "unit_price", "greater than 0"),
    (_line(quantity=0), "quantity", "at least 1"),
    (_line(quantity="1000"), "quantity", "must be an integer"),
    (_line(quantity=1000.0), "quantity", "must be an integer"),
    (_line(quantity=True), "quantity", "must be an integer"),
    (_line(quantity=2**64), "quantity", "64-bit"),
    (_line(occurred_at="2023-06-15T09:30:00"), "occurred_at", "timezone"),
    (_line(occurred_at="15/06/2023"), "occurred_at", "ISO-8601"),
    (_line(occurred_at=1686821400), "occurred_at", "ISO-8601"),
    (_line(occurred_at="0001-01-01T00:00:00+01:00"), "occurred_at", "out of range"),
    (_line(occurred_at="2023-06-15T09:30:00.1234567Z"), "occurred_at", "6 fractional digits"),
    (_line(unit_price="1e99999999999999999999"), "unit_price", "out of range"),
    (_line(purpose="WAR_CHEST"), "purpose", "must be one of"),
    (_line(buyer="Germany"), "buyer", "alpha-3"),
    (_line(supplier=7), "supplier", "must be a string"),
    (_line(colour="green"), "colour", "unknown field"),
    (_line(order_id=KeyError), "order_id", "required field is missing"),
    (_line(type="OrderShipped"), "type", "unknown event type"),
    (_line(type=None), "type", "unknown event type"),
    (_line(type=KeyError), "type", "required field is missing"),
    ('{"type":"OrderPlaced"', LINE, "invalid JSON"),
    ('{"type":"OrderCancelled","type":"OrderPlaced"}', LINE, "duplicate key"),
    ('{"type":"OrderPlaced","quantity":NaN}', LINE, "NaN is not valid JSON"),
    ("[1, 2]", LINE, "must be a JSON object"),
    ('"OrderPlaced"', LINE, "must be a JSON object"),
]


def test_each_bad_line_is_reported_with_its_number_and_field() -> None:
    good = event_to_jsonl(PLACED)
    lines = []
    for bad, _, _ in BAD_LINES:
        lines += [good, bad]
    parsed = list(read_jsonl(io.StringIO("\n".join(lines))))
    assert len(parsed) == 2 * len(BAD_LINES)
    for index, (_, field, reason) in enumerate(BAD_LINES):
        ok, wrong = parsed[2 * index], parsed[2 * index + 1]
        assert ok.event == PLACED
        assert ok.errors == ()
        assert wrong.event is None
        assert wrong.line == 2 * index + 2
        assert [e.field for e in wrong.errors] == [field], (wrong, field)
        assert reason in wrong.errors[0].reason, (wrong, reason)
        assert wrong.errors[0].line == wrong.line


def test_all_problems_of_one_line_are_reported() -> None:
    bad = _line(unit_price=1.5, quantity="x", extra=1, buyer=KeyError)
    [parsed] = read_jsonl(io.StringIO(bad))
    assert sorted(e.field for e in parsed.errors) == ["buyer", "extra", "quantity", "unit_price"]


def test_floats_are_rejected_with_a_clear_reason() -> None:
    [parsed] = read_jsonl(io.StringIO(_line(unit_price=3000.25)))
    assert parsed.errors == (LineError(1, "unit_price", "decimal must be a string, not a float"),)


def test_json_integers_are_accepted_for_decimals() -> None:
    [parsed] = read_jsonl(io.StringIO(_line(unit_price=3000, usd_rate=1)))
    assert isinstance(parsed.event, OrderPlaced)
    assert parsed.event.unit_price == Decimal(3000)
    assert parsed.event.usd_rate == Decimal(1)


def test_optional_fields_may_be_omitted() -> None:
    record = {
        k: v
        for k, v in json.loads(event_to_jsonl(PLACED_MINIMAL)).items()
        if k not in {"destination", "caliber_mm", "nsn", "expected_delivery"}
    }
    [parsed] = read_jsonl(io.StringIO(json.dumps(record)))
    assert parsed.event == PLACED_MINIMAL


class _Recorder(io.StringIO):
    """Records every readline size: the reader must never ask for an unbounded line."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.sizes: list[int] = []

    def readline(self, size: int | None = -1, /) -> str:  # type: ignore[override]
        limit = -1 if size is None else size
        self.sizes.append(limit)
        return super().readline(limit)


def test_oversized_line_is_rejected_in_bounded_reads() -> None:
    good = event_to_jsonl(PLACED)
    huge = _line(supplier="x" * 10_000)
    stream = _Recorder(good + "\n" + huge + "\n" + good + "\n")
    parsed = list(read_jsonl(stream, max_line_length=len(good)))
    assert [p.event for p in parsed] == [PLACED, None, PLACED]
    assert _errors(parsed) == [(2, LINE, f"line is longer than {len(good)} characters")]
    assert max(stream.sizes) == len(good) + 1
    assert min(stream.sizes) > 0


def test_a_line_exactly_at_the_limit_is_fine() -> None:
    good = event_to_jsonl(PLACED)
    for text in (good, good + "\n"):
        [parsed] = read_jsonl(io.StringIO(text), max_line_length=len(good))
        assert parsed.event == PLACED
    [parsed] = read_jsonl(io.StringIO(good), max_line_length=len(good) - 1)
    assert parsed.errors[0].field == LINE


def test_an_oversized_last_line_without_newline() -> None:
    parsed = list(read_jsonl(io.StringIO("x" * 100), max_line_length=10))
    assert _errors(parsed) == [(1, LINE, "line is longer than 10 characters")]


# --- event_from_json_dict (the intake API's entry) -----------------------------------------


@pytest.mark.parametrize("name", list(SAMPLES))
def test_json_dict_round_trip(name: str) -> None:
    event = SAMPLES[name]
    payload = event_to_json_dict(event)
    assert event_from_json_dict(event_type(event), payload) == event
    # JSONB gives the payload back in another key order: the canonical text does not care.
    shuffled = dict(reversed(list(payload.items())))
    assert canonical_payload(shuffled).encode() == canonical_json(event)


def test_event_from_json_dict_names_every_bad_field() -> None:
    payload = event_to_json_dict(PLACED) | {"unit_price": 1.5, "quantity": -1, "nope": 1}
    del payload["buyer"]
    with pytest.raises(InvalidEventData) as err:
        event_from_json_dict("OrderPlaced", payload)
    assert err.value.code == "INVALID_EVENT"
    assert {e.field for e in err.value.errors} == {"unit_price", "quantity", "nope", "buyer"}
    assert all(isinstance(e, FieldError) for e in err.value.errors)


def test_validation_runs_after_conversion_and_can_be_skipped() -> None:
    payload = event_to_json_dict(PLACED) | {"quantity": 0, "buyer": "XXX"}
    with pytest.raises(InvalidEventData) as err:
        event_from_json_dict("OrderPlaced", payload)
    assert [e.field for e in err.value.errors] == ["buyer", "quantity"]
    event = event_from_json_dict("OrderPlaced", payload, check=False)
    assert isinstance(event, OrderPlaced)
    assert event.quantity == 0


def test_a_broken_field_is_not_mistaken_for_an_absent_one() -> None:
    # quantity is null: were the broken unit_price taken as absent too, the amendment rule
    # ("set quantity, unit_price or both") would fire as well.
    payload = event_to_json_dict(AMENDED_PRICE_ONLY) | {"unit_price": 2.5}
    with pytest.raises(InvalidEventData) as err:
        event_from_json_dict("OrderAmended", payload)
    assert [(e.field, e.reason) for e in err.value.errors] == [("unit_price", FLOAT_REASON)]


def test_unknown_type() -> None:
    with pytest.raises(InvalidEventData, match="type: unknown event type"):
        event_from_json_dict("Nope", {})


# --- CSV -----------------------------------------------------------------------------------


def _csv(rows: list[dict[str, object]], header: list[str] | None = None) -> str:
    out = io.StringIO()
    fields = header or list(event_to_json_dict(PLACED))
    writer = csv.DictWriter(out, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: "" if v is None else v for k, v in row.items()})
    return out.getvalue()


def test_csv_good_file() -> None:
    rows = [event_to_json_dict(PLACED), event_to_json_dict(PLACED_MINIMAL)]
    rows[0]["supplier"] = 'Nammo, "Raufoss"'
    parsed = list(read_orders_csv(io.StringIO(_csv(rows))))
    assert _errors(parsed) == []
    assert [p.line for p in parsed] == [2, 3]
    first = parsed[0].event
    assert isinstance(first, OrderPlaced)
    assert first.supplier == 'Nammo, "Raufoss"'
    assert first.unit_price == PLACED.unit_price
    # Empty cells are nulls.
    assert parsed[1].event == PLACED_MINIMAL


def test_csv_columns_may_be_a_subset_in_any_order() -> None:
    row = event_to_json_dict(PLACED_MINIMAL)
    header = sorted(k for k, v in row.items() if v is not None)
    parsed = list(read_orders_csv(io.StringIO(_csv([{k: row[k] for k in header}], header))))
    assert [p.event for p in parsed] == [PLACED_MINIMAL]


def test_csv_bad_rows_are_reported_with_line_and_field() -> None:
    good = event_to_json_dict(PLACED)
    rows = [
        good,
        good | {"quantity": "1e3"},
        good | {"quantity": "9" * 5000},
        good | {"unit_price": "3000.12345"},
        good | {"occurred_at": "2023-06-15 09:30"},
        good | {"buyer": ""},
        good | {"supplier": ""},
        good,
    ]
    text = _csv(rows) + 'a,"unterminated\n' + "only,three,cells\n"
    parsed = list(read_orders_csv(io.StringIO(text)))
    assert _errors(parsed) == [
        (3, "quantity", "must be an integer"),
        (4, "quantity", "must fit a long"),
        (5, "unit_price", "must fit decimal(18,4): at most 14 integer digits and 4 decimal places"),
        (6, "occurred_at", "timestamp must include a timezone (Z or +HH:MM)"),
        (7, "buyer", "must be an ISO 3166-1 alpha-3 country code"),
        (8, "supplier", "must not be empty or blank"),
        (10, LINE, "invalid CSV: unexpected end of data"),
        (11, LINE, f"expected {len(good)} columns, found 3"),
    ]
    assert parsed[0].event == PLACED
    assert parsed[7].event == PLACED


def test_csv_bad_header_stops_the_file() -> None:
    header = [*event_to_json_dict(PLACED), "colour", "buyer"]
    header.remove("quantity")
    parsed = list(read_orders_csv(io.StringIO(",".join(header) + "\n1,2,3\n")))
    assert _errors(parsed) == [
        (1, "colour", "unknown column"),
        (1, "buyer", "duplicate column"),
        (1, "quantity", "required column is missing"),
    ]


def test_csv_oversized_line_and_empty_file() -> None:
    row = event_to_json_dict(PLACED) | {"item_description": "y" * 5000}
    parsed = list(
        read_orders_csv(io.StringIO(_csv([row, event_to_json_dict(PLACED)])), max_line_length=1000)
    )
    assert _errors(parsed) == [(2, LINE, "line is longer than 1000 characters")]
    assert parsed[1].event == PLACED
    assert list(read_orders_csv(io.StringIO(""))) == []


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children)
    ),
    max_leaves=8,
)


@settings(max_examples=500)
@given(st.sampled_from(sorted(SAMPLES)), st.data())
def test_arbitrary_field_values_give_errors_never_exceptions(
    name: str, data: st.DataObject
) -> None:
    event = SAMPLES[name]
    payload = event_to_json_dict(event)
    # Mostly known field names, so conversion and validation of each kind get exercised.
    names = st.sampled_from(sorted(payload)) | st.text(max_size=10)
    payload |= data.draw(st.dictionaries(names, JSON_VALUES, max_size=4))
    try:
        got = event_from_json_dict(event_type(event), payload)
    except InvalidEventData as err:
        assert err.errors
    else:
        assert got == event_from_json_dict(event_type(got), event_to_json_dict(got))


@settings(max_examples=300)
@given(st.text(max_size=300))
def test_arbitrary_text_gives_line_errors_never_exceptions(text: str) -> None:
    for parsed in read_jsonl(io.StringIO(text), max_line_length=100):
        assert (parsed.event is None) != (parsed.errors == ())
    for parsed in read_orders_csv(io.StringIO(text), max_line_length=100):
        assert (parsed.event is None) != (parsed.errors == ())


def test_a_semicolon_separated_csv_gets_a_delimiter_hint() -> None:
    header = ";".join(s.name for s in default_registry().current("OrderPlaced").fields)
    [parsed] = list(read_orders_csv(io.StringIO(header + "\n")))
    [error] = parsed.errors
    assert error.field == LINE
    assert "semicolon (;)-separated" in error.reason
    assert "separated by commas" in error.reason


def _unique(pairs: list[tuple[str, object]]) -> dict[str, object]:
    if len({k for k, _ in pairs}) != len(pairs):
        raise ValueError("duplicate key in object")
    return dict(pairs)


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


def _reference(data: str | bytes) -> object:
    """json.loads given hooks that refuse what strict_json_loads refuses."""
    return json.loads(data, object_pairs_hook=_unique, parse_constant=_no_constant)


def _loaded(load: Callable[[str | bytes], object], text: str | bytes) -> object:
    """The value, or the refusal's class and message."""
    try:
        return ("value", load(text))
    except ValueError as err:
        return (type(err).__name__, str(err))


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=10,
)
JSON_TEXTS = st.one_of(
    JSON_VALUES.map(json.dumps),
    # Duplicated keys, constants, a byte-order mark, stray text: what the hooks refuse.
    st.lists(
        st.sampled_from(
            ['{"a":1', ',"a":2', "}", "NaN", "-Infinity", "\ufeff", " ", "[", "]", ","]
        ),
        max_size=6,
    ).map("".join),
    st.text(max_size=20),
)


@settings(max_examples=500)
@given(text=JSON_TEXTS, as_bytes=st.sampled_from([None, "utf-8", "utf-16", "utf-32-le"]))
def test_strict_json_loads_is_json_loads_with_its_hooks(text: str, as_bytes: str | None) -> None:
    """The same value or the same refusal as json.loads given the same hooks, for text and
    for bytes in any encoding JSON allows (a byte-order mark included)."""
    data: str | bytes = text
    if as_bytes is not None:
        try:
            data = text.encode(as_bytes)
        except UnicodeEncodeError:
            return
    assert _loaded(strict_json_loads, data) == _loaded(_reference, data)


@given(st.binary(max_size=24))
@example(b'"\xed\xa0\x80"')  # a lone surrogate in UTF-8: json.loads lets it through
@example(b"\xef\xbb\xbf{}")  # UTF-8's byte-order mark
@example(b'{"a":1,"a":2}')
def test_strict_json_loads_reads_any_bytes_as_json_loads_does(data: bytes) -> None:
    assert _loaded(strict_json_loads, data) == _loaded(_reference, data)
