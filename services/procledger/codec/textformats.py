"""Events as text: JSON Lines of any type, CSV of OrderPlaced; streamed, bounded, strict."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, DecimalException
from typing import Any, Protocol

from procledger.codec.avro import ENUM_TYPES
from procledger.codec.errors import InvalidEventData
from procledger.codec.jsonform import event_to_json_dict
from procledger.codec.schemas import FieldSpec, default_registry
from procledger.domain.events import EVENT_TYPES, Event, OrderPlaced, event_type
from procledger.domain.validation import FieldError, validate

MAX_LINE_LENGTH = 1 << 20
# The field name of errors about a whole line rather than one field.
LINE = "(line)"
FLOAT_REASON = "decimal must be a string, not a float"
# Stands in for a field that failed conversion while the rest of the event is validated.
_BROKEN = object()

_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_SUB_MICROSECOND = re.compile(r"[.,][0-9]{7}")


class TextSource(Protocol):
    """A text stream: open(..., encoding="utf-8"), io.StringIO, sys.stdin."""

    def readline(self, size: int = -1, /) -> str: ...


# Which lines (by 1-based number) a reader parses; `publish --workers` gives each its own.
LineFilter = Callable[[int], bool]


@dataclass(frozen=True, slots=True)
class LineError:
    """One problem in one input line (1-based); field is LINE for whole-line problems."""

    line: int
    field: str
    reason: str


@dataclass(frozen=True, slots=True)
class ParsedLine:
    """One input line: an event that passed validation, or the errors that stop it."""

    line: int
    event: Event | None
    errors: tuple[LineError, ...]


# Named with the valid ones, so a sender sees the choices, not just the refusal.
UNKNOWN_TYPE = f"unknown event type; valid types are {', '.join(EVENT_TYPES)}"


def _fail(name: str, reason: str, value: object) -> FieldError:
    return FieldError(name, reason, repr(value)[:100])


def _instant(spec: FieldSpec, raw: object) -> datetime | FieldError:
    if not isinstance(raw, str):
        return _fail(spec.name, "must be an ISO-8601 timestamp string", raw)
    if _SUB_MICROSECOND.search(raw):
        # fromisoformat would drop the extra digits: truncation, so refused like rounding.
        return _fail(spec.name, "timestamp has more than 6 fractional digits", raw)
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return _fail(spec.name, "must be an ISO-8601 timestamp", raw)
    if parsed.utcoffset() is None:
        return _fail(spec.name, "timestamp must include a timezone (Z or +HH:MM)", raw)
    try:
        return parsed.astimezone(UTC)
    except OverflowError:
        return _fail(spec.name, "timestamp out of range", raw)


def _convert(spec: FieldSpec, raw: object, from_csv: bool) -> object:
    """A field's Python value from JSON (typed) or CSV (all text); FieldError if impossible."""
    kind = spec.kind
    if kind == "timestamp":
        return _instant(spec, raw)
    if kind == "string":
        return raw if isinstance(raw, str) else _fail(spec.name, "must be a string", raw)
    if kind == "enum":
        if isinstance(raw, str) and raw in spec.symbols:
            return ENUM_TYPES[spec.enum_name][raw]
        return _fail(spec.name, "must be one of " + ", ".join(spec.symbols), raw)
    if kind == "long":
        if from_csv and isinstance(raw, str) and _INTEGER.fullmatch(raw):
            # int() refuses over 4300 digits (a DoS guard); no long needs more than 19.
            return int(raw) if len(raw) <= 25 else _fail(spec.name, "must fit a long", raw)
        if not from_csv and isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        return _fail(spec.name, "must be an integer", raw)
    # Decimal: JSON floats have already lost exactness, so they are refused outright.
    if isinstance(raw, float):
        return _fail(spec.name, FLOAT_REASON, raw)
    if isinstance(raw, int) and not isinstance(raw, bool) and not from_csv:
        return Decimal(raw)
    if isinstance(raw, str) and _DECIMAL.fullmatch(raw):
        try:
            return Decimal(raw)
        except DecimalException:  # an exponent beyond what Decimal can hold
            return _fail(spec.name, "decimal out of range", raw)
    return _fail(spec.name, 'must be a decimal string such as "3000.50"', raw)


def _build(
    kind: object, data: Mapping[str, object], *, from_csv: bool, check: bool
) -> Event | list[FieldError]:
    cls = EVENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None or not isinstance(kind, str):
        return [_fail("type", UNKNOWN_TYPE, kind)]
    specs = default_registry().current(kind).fields
    known = {spec.name for spec in specs}
    errors = [_fail(name, "unknown field", data[name]) for name in data if name not in known]
    # Any: values are converted to each field's type below; a broken field holds _BROKEN.
    values: dict[str, Any] = {}
    for spec in specs:
        raw = data.get(spec.name)
        # In CSV an empty cell is the only way to say null.
        if raw is None or (from_csv and raw == "" and spec.nullable):
            if spec.nullable:
                values[spec.name] = None
                continue
            reason = (
                "must not be null or empty" if spec.name in data else "required field is missing"
            )
            errors.append(_fail(spec.name, reason, raw))
            values[spec.name] = _BROKEN
            continue
        value = _convert(spec, raw, from_csv)
        if isinstance(value, FieldError):
            errors.append(value)
            value = _BROKEN
        values[spec.name] = value
    # Built even with broken fields so that one pass also reports the rule errors of the other
    # fields; _BROKEN is not None, so no cross-field rule mistakes it for an absent value.
    event = cls(**values)
    if check:
        failed = {e.field for e in errors}
        errors += [e for e in validate(event) if e.field not in failed]
    return errors or event


def event_from_json_dict(kind: str, data: Mapping[str, object], *, check: bool = True) -> Event:
    """The event a JSON object describes (as event_to_json_dict writes it, or an API body).

    Raises InvalidEventData naming every unknown, missing, mistyped or invalid field; with
    check=False the field rules of validation.validate are skipped (types are still enforced).
    """
    built = _build(kind, data, from_csv=False, check=check)
    if isinstance(built, list):
        raise InvalidEventData(built)
    return built


def event_to_jsonl(event: Event) -> str:
    """One JSON Lines record (no trailing newline): "type" first, then the JSON form."""
    record = {"type": event_type(event), **event_to_json_dict(event)}
    return json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def _lines(stream: TextSource, limit: int) -> Iterator[tuple[int, str | None]]:
    """(line number, text without newline), or None as text for a line over `limit`."""
    number = 0
    while line := stream.readline(limit + 1):
        number += 1
        if len(line) > limit and not (len(line) == limit + 1 and line.endswith("\n")):
            # Skip the rest of the line in bounded chunks instead of holding it whole.
            while line and not line.endswith("\n"):
                line = stream.readline(limit + 1)
            yield number, None
            continue
        yield number, line.rstrip("\r\n")


def _too_long(number: int, limit: int) -> ParsedLine:
    reason = f"line is longer than {limit} characters"
    return ParsedLine(number, None, (LineError(number, LINE, reason),))


def _result(number: int, built: Event | list[FieldError]) -> ParsedLine:
    if isinstance(built, list):
        return ParsedLine(number, None, tuple(LineError(number, e.field, e.reason) for e in built))
    return ParsedLine(number, built, ())


def strict_json_loads(text: str | bytes) -> Any:
    """json.loads that refuses what JSON does not allow: duplicate keys, NaN and Infinity.

    Raises ValueError (JSONDecodeError, UnicodeDecodeError for bytes) naming the problem.
    Exactly json.loads with those hooks, through one decoder built once: json.loads builds a
    new one on each call that passes hooks, a twentieth of `publish`'s parsing CPU.
    """
    if isinstance(text, bytes):
        text = text.decode(json.detect_encoding(text), "surrogatepass")
    elif text.startswith("\ufeff"):
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    return _STRICT.decode(text)


def _unique_keys(pairs: list[tuple[str, object]]) -> dict[str, object]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key in object")
    return result


def _no_constants(name: str) -> object:
    raise ValueError(f"{name} is not valid JSON")


_STRICT = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constants)


def _each_line(
    lines: Iterator[tuple[int, str | None]],
    limit: int,
    parse: Callable[[int, str], ParsedLine],
    keep: LineFilter | None,
) -> Iterator[ParsedLine]:
    """`parse` of every non-blank line `keep` wants; a line over `limit` is reported, not
    parsed."""
    for number, text in lines:
        if keep is not None and not keep(number):
            continue
        if text is None:
            yield _too_long(number, limit)
        elif text.strip():
            yield parse(number, text)


def read_jsonl(
    stream: TextSource, *, max_line_length: int = MAX_LINE_LENGTH, keep: LineFilter | None = None
) -> Iterator[ParsedLine]:
    """One ParsedLine per non-blank line of JSON Lines; key "type" names the event type.

    `keep` (a line number -> bool) skips the lines it refuses before they are parsed.
    """
    yield from _each_line(_lines(stream, max_line_length), max_line_length, _jsonl_line, keep)


def _jsonl_line(number: int, text: str) -> ParsedLine:
    try:
        data = strict_json_loads(text)
    except ValueError as err:
        return ParsedLine(number, None, (LineError(number, LINE, f"invalid JSON: {err}"),))
    if not isinstance(data, dict):
        return ParsedLine(number, None, (LineError(number, LINE, "must be a JSON object"),))
    if "type" not in data:
        return ParsedLine(number, None, (LineError(number, "type", "required field is missing"),))
    kind = data.pop("type")
    return _result(number, _build(kind, data, from_csv=False, check=True))


def _csv_row(text: str) -> list[str]:
    # One record per physical line: a quoted field cannot span lines (strict mode says so).
    return next(csv.reader([text], strict=True))


_SEPARATORS = {";": "semicolon (;)", "\t": "tab", "|": "pipe (|)"}


def _other_separator(header: list[str]) -> str | None:
    """The separator a one-column header was really split by, if it names known fields."""
    if len(header) != 1:
        return None
    for char, name in _SEPARATORS.items():
        if char in header[0] and "event_id" in header[0].split(char):
            return name
    return None


def read_orders_csv(
    stream: TextSource, *, max_line_length: int = MAX_LINE_LENGTH, keep: LineFilter | None = None
) -> Iterator[ParsedLine]:
    """OrderPlaced events from CSV: a header row of field names, then one order per line
    (`keep` as for read_jsonl; the header is always read)."""
    lines = _lines(stream, max_line_length)
    first = next(lines, None)
    if first is None:
        return
    number, text = first
    if text is None:
        yield _too_long(number, max_line_length)
        return
    try:
        header = _csv_row(text)
    except csv.Error as err:
        yield ParsedLine(number, None, (LineError(number, LINE, f"invalid CSV: {err}"),))
        return
    specs = default_registry().current(OrderPlaced.__name__).fields
    known = {s.name for s in specs}
    separator = _other_separator(header)
    if separator is not None:
        reason = (
            f"invalid CSV: the header is one column holding {separator}-separated names; "
            "fields must be separated by commas (re-export the file as comma-separated)"
        )
        yield ParsedLine(number, None, (LineError(number, LINE, reason),))
        return
    problems = [LineError(number, name, "unknown column") for name in header if name not in known]
    problems += [
        LineError(number, name, "duplicate column")
        for i, name in enumerate(header)
        if name in header[:i]
    ]
    problems += [
        LineError(number, s.name, "required column is missing")
        for s in specs
        if not s.nullable and s.name not in header
    ]
    if problems:
        yield ParsedLine(number, None, tuple(problems))
        return

    def parse(number: int, text: str) -> ParsedLine:
        try:
            row = _csv_row(text)
        except csv.Error as err:
            return ParsedLine(number, None, (LineError(number, LINE, f"invalid CSV: {err}"),))
        if len(row) != len(header):
            reason = f"expected {len(header)} columns, found {len(row)}"
            return ParsedLine(number, None, (LineError(number, LINE, reason),))
        data = dict(zip(header, row, strict=True))
        return _result(number, _build(OrderPlaced.__name__, data, from_csv=True, check=True))

    yield from _each_line(lines, max_line_length, parse, keep)
