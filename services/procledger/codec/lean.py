"""The lean read and write of a schema: plain Avro values, proven canonical, typed here.

fastavro converts decimals and timestamps in its logical-type layer, on the way in and again
on the canonical re-encode that proves the body has exactly one encoding; for the current
schema (nearly every record) that layer was a third of the consumer's decoding CPU. Here
the body is read against the same schema with the logical types left off, so the re-encode
compares plain longs and bytes, and each value is converted once, straight into what the
event holds. The checks stay those of the full path, field by field:

- longs, lengths, union and enum indexes: the re-encode of the plain values must give the
  body's bytes (an over-long or padded varint does not); for the schemas' own types this is
  proven by counting instead of writing (is_canonical below), a quarter of the cost;
- decimal bytes must be the ones fastavro writes for their value (big-endian two's
  complement, as long as the magnitude needs plus a sign bit), and the value must fit the
  field's precision (fastavro's read rounds a wider one, which the full path rejects);
- timestamp-micros: the instant fastavro's read gives (the epoch plus that many
  microseconds, in UTC), and beyond datetime's range a MalformedBody, as fastavro raises.

The write is the read's mirror: the encoder has already checked each decimal fits its
schema exactly (quantized to its scale) and each instant has a zone, so turning them into
the plain long and bytes fastavro's logical layer would make is all that is left, and that
layer was two thirds of encoding's CPU.

tests/unit/test_codec_lean.py checks both reads give the same event or both refuse, and
both writes the same bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Context, Decimal
from io import BytesIO
from typing import Any

from fastavro import parse_schema, schemaless_reader, schemaless_writer

from procledger.codec.errors import MalformedBody
from procledger.codec.schemas import SchemaVersion
from procledger.domain.chain import epoch_text

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# Wide enough that scaleb() of any value within a schema's precision is exact.
_EXACT = Context(prec=60)


# A zig-zag long below this magnitude takes at most 9 bytes, where a varint cannot overflow.
_NO_WRAP = 1 << 62

# How is_canonical() reads a field: its name, Avro type, whether null is its union's first
# branch, and for an enum each symbol's index byte.
FieldSize = tuple[str, str, bool, Mapping[str, int] | None]


@dataclass(frozen=True, slots=True)
class LeanPlan:
    """The current schema without logical types, and how to type each field it held."""

    plain: dict[str, Any]
    label: str
    decimals: tuple[tuple[str, int, int], ...]  # name, 10**precision, scale
    instants: tuple[str, ...]
    sizes: tuple[FieldSize, ...] | None  # see size_layout()


def _plain_type(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        return [_plain_type(t) for t in avro_type]
    if isinstance(avro_type, Mapping) and "logicalType" in avro_type:
        return avro_type["type"]
    return avro_type


def lean_plan(version: SchemaVersion) -> LeanPlan:
    schema = dict(version.schema)
    schema["fields"] = [{**f, "type": _plain_type(f["type"])} for f in version.schema["fields"]]
    plain: dict[str, Any] = parse_schema(schema, named_schemas={})  # type: ignore[assignment]
    return LeanPlan(
        plain=plain,
        label=f"{version.event_type} v{version.version}",
        decimals=tuple(
            (f.name, 10**f.precision, f.scale) for f in version.fields if f.kind == "decimal"
        ),
        instants=tuple(f.name for f in version.fields if f.kind == "timestamp"),
        sizes=size_layout(plain),
    )


def size_layout(plain: Mapping[str, Any]) -> tuple[FieldSize, ...] | None:
    """How to count a record of this schema, if is_canonical() can: longs, strings, bytes
    and enums of under 64 symbols, each alone or in a union with null first. Any other
    schema gives None, and its records are re-encoded instead."""
    layout: list[FieldSize] = []
    for field in plain["fields"]:
        avro_type, nullable = field["type"], False
        if isinstance(avro_type, list):
            if len(avro_type) != 2 or avro_type[0] != "null":
                return None
            avro_type, nullable = avro_type[1], True
        if isinstance(avro_type, Mapping):
            symbols = avro_type.get("symbols", ())
            if avro_type.get("type") != "enum" or len(symbols) >= 64:
                return None
            indexes = {symbol: 2 * i for i, symbol in enumerate(symbols)}  # zig-zag, one byte
            layout.append((field["name"], "enum", nullable, indexes))
        elif avro_type in ("long", "string", "bytes"):
            layout.append((field["name"], avro_type, nullable, None))
        else:
            return None
    return tuple(layout)


def is_canonical(
    layout: tuple[FieldSize, ...], record: Mapping[str, Any], data: bytes, start: int
) -> bool:
    """True if the body is the record's one canonical encoding, proven without writing it.

    False means only "not proven here" (a long too large to count, or a difference): the
    caller re-encodes, which decides and names the fault.

    Why it proves the bytes, for the types size_layout() admits: the body was read whole into
    this record, so it is the run of tokens the canonical encoding would write: varints
    (longs, lengths, union and enum indexes) and raw bytes (a string's UTF-8, read strictly,
    re-encodes to the same bytes). No varint is shorter than the canonical one at its place,
    so equal totals make every varint minimal in length, and every index sit where it was
    counted. A minimal varint of at most 9 bytes (every long here is under 2**62 in
    magnitude) cannot have wrapped, so its bytes follow from its value. An index is compared
    byte for byte, since fastavro reads a negative one (-1 as the last branch or symbol).
    """
    at = start
    end = len(data)
    for name, kind, nullable, indexes in layout:
        value = record[name]
        if nullable:
            if at >= end or data[at] != (0 if value is None else 2):
                return False
            at += 1
            if value is None:
                continue
        if kind == "string":
            size = len(value) if value.isascii() else len(value.encode())
            at += size + (size.bit_length() + 7) // 7  # the length, zig-zag: twice the size
        elif kind == "long":
            if not -_NO_WRAP < value < _NO_WRAP:
                return False
            zigzag = value << 1 if value >= 0 else (-value << 1) - 1
            at += (zigzag.bit_length() + 6) // 7 or 1
        elif kind == "bytes":
            size = len(value)
            at += size + (size.bit_length() + 7) // 7
        else:
            assert indexes is not None  # an enum's
            if at >= end or data[at] != indexes[value]:
                return False
            at += 1
    return at == end


def read_body(
    schema: dict[str, Any], data: bytes, start: int, label: str, resolve_to: Any = None
) -> dict[str, Any]:
    """One Avro body read whole: fastavro's errors and trailing bytes become MalformedBody."""
    buf = BytesIO(data)
    buf.seek(start)
    try:
        record: dict[str, Any] = schemaless_reader(buf, schema, resolve_to)  # type: ignore[assignment]
    except Exception as err:
        # fastavro raises EOFError, UnicodeDecodeError, IndexError, ValueError, ...
        raise MalformedBody(f"{label}: {type(err).__name__}: {err}") from err
    if buf.tell() != len(data):
        raise MalformedBody(f"{len(data) - buf.tell()} bytes after the record")
    return record


def check_canonical(
    schema: dict[str, Any], record: dict[str, Any], data: bytes, start: int, label: str
) -> None:
    """The record must re-encode to the body's exact bytes.

    fastavro reads an over-long varint (more than 10 bytes, or padded) without complaint and
    wraps it: 11 bytes can decode to 64. Writers emit exactly one encoding per value, so a
    body that does not re-encode to itself was forged or corrupted and its numbers cannot
    be trusted.
    """
    canonical = BytesIO()
    try:
        schemaless_writer(canonical, schema, record)
    except Exception as err:
        raise MalformedBody(f"{label}: {err}") from err
    if canonical.getbuffer() != memoryview(data)[start:]:
        raise MalformedBody(f"{label}: body is not canonical Avro (an over-long or padded number)")


def plain_values(plan: LeanPlan, record: dict[str, Any]) -> None:
    """Turn a checked record's decimals and instants into the plain values Avro holds (in
    place): the bytes and microseconds fastavro's logical writers give for them.

    Each decimal must already be quantized to its field's scale, and each instant must be
    aware, as AvroCodec.encode makes sure before calling this.
    """
    for name, _limit, scale in plan.decimals:
        value = record[name]
        if value is not None:
            unscaled = int(value.scaleb(scale, _EXACT))
            record[name] = unscaled.to_bytes(
                (abs(unscaled).bit_length() + 8) // 8, "big", signed=True
            )
    for name in plan.instants:
        value = record[name]
        if value is not None:
            since = value - EPOCH
            record[name] = (since.days * 86_400 + since.seconds) * 1_000_000 + since.microseconds


def decimal_text(unscaled: int, scale: int) -> str:
    """jsonform.decimal_text() of a value read at its schema's scale, from its unscaled
    digits: plain notation, exactly `scale` places ("3000.0000"), no negative zero."""
    digits = str(abs(unscaled)).rjust(scale + 1, "0")
    text = f"{digits[:-scale]}.{digits[-scale:]}" if scale else digits
    return f"-{text}" if unscaled < 0 else text


def read_lean(plan: LeanPlan, data: bytes, start: int) -> tuple[dict[str, Any], dict[str, object]]:
    """The record's fields typed as the event holds them (enums still as symbols), and its
    JSON form (jsonform.event_to_json_dict of the event) built from the plain values."""
    record = read_body(plan.plain, data, start, plan.label)
    if plan.sizes is None or not is_canonical(plan.sizes, record, data, start):
        # Not proven by counting: the writer decides, and names the fault.
        check_canonical(plan.plain, record, data, start, plan.label)
    # Strings, longs, None and enum symbols are already as the JSON form writes them.
    payload: dict[str, object] = dict(record)
    for name, limit, scale in plan.decimals:
        raw = record[name]
        if raw is None:
            continue
        unscaled = int.from_bytes(raw, "big", signed=True)
        if not -limit < unscaled < limit:
            raise MalformedBody(f"{name}: decimal has more digits than its precision")
        if raw != unscaled.to_bytes((abs(unscaled).bit_length() + 8) // 8, "big", signed=True):
            raise MalformedBody(f"{plan.label}: body is not canonical Avro (a padded decimal)")
        record[name] = Decimal(unscaled).scaleb(-scale, _EXACT)
        payload[name] = decimal_text(unscaled, scale)
    for name in plan.instants:
        micros = record[name]
        if micros is not None:
            try:
                since = timedelta(microseconds=micros)
                record[name] = EPOCH + since
                payload[name] = epoch_text(since)
            except OverflowError as err:
                raise MalformedBody(f"{plan.label}: OverflowError: {err}") from err
    return record, payload
