"""Avro single-object encoding of events: schemas compiled once, strict encode, lean decode."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Context, Decimal, DecimalException, Inexact, InvalidOperation
from enum import Enum
from functools import cache
from io import BytesIO
from typing import Any

from fastavro import schemaless_writer

from procledger.codec.errors import (
    EncodeError,
    MalformedBody,
    NotSingleObject,
    SchemaRegistryError,
    UnknownSchema,
    WrongFraming,
)
from procledger.codec.framing import DEFAULT_FRAMINGS, Framing
from procledger.codec.jsonform import canonical_json, event_to_json_dict
from procledger.codec.lean import (
    LeanPlan,
    check_canonical,
    lean_plan,
    plain_values,
    read_body,
    read_lean,
)
from procledger.codec.schemas import (
    SchemaRegistry,
    SchemaVersion,
    default_registry,
)
from procledger.domain.events import EVENT_TYPES, Event, Purpose
from procledger.domain.values import immutable

__all__ = [
    "AvroCodec",
    "DecodedEvent",
    "canonical_json",
    "decode",
    "default_codec",
    "encode",
    "event_to_json_dict",
]

LONG_MIN = -(2**63)
LONG_MAX = 2**63 - 1

# Python enum for each Avro enum name the schemas use.
ENUM_TYPES: dict[str, type[Enum]] = {"Purpose": Purpose}


@immutable
class DecodedEvent:
    """A decoded record: the event and which writer schema produced the bytes."""

    event: Event
    event_type: str
    fingerprint: str
    schema_version: int
    payload: Mapping[str, object]  # event_to_json_dict(event): the journal's payload


@dataclass(frozen=True, slots=True)
class _Writer:
    """How to turn one event class into a record of one schema version."""

    version: SchemaVersion
    names: tuple[str, ...]
    dropped: tuple[str, ...]
    longs: tuple[tuple[str, bool], ...]
    instants: tuple[tuple[str, bool], ...]
    decimals: tuple[tuple[str, bool, Decimal, Context, str], ...]
    lean: LeanPlan | None  # the plain write; None writes through fastavro's logical types


@dataclass(frozen=True, slots=True)
class _Reader:
    """How to read records of one writer fingerprint into the current event class."""

    writer: dict[str, Any]
    reader: dict[str, Any] | None
    cls: type[Event]
    event_type: str
    fingerprint: str
    version: int
    decimals: tuple[tuple[str, int], ...]
    enums: tuple[tuple[str, dict[str, Enum]], ...]
    lean: LeanPlan | None  # the current schema's fast read; None for an older writer


def _writer(version: SchemaVersion, cls: type[Event], lean: bool) -> _Writer:
    names = tuple(f.name for f in version.fields)
    dropped = tuple(f.name for f in dataclasses.fields(cls) if f.name not in names)
    longs = tuple((f.name, f.nullable) for f in version.fields if f.kind == "long")
    instants = tuple((f.name, f.nullable) for f in version.fields if f.kind == "timestamp")
    decimals = tuple(
        (
            f.name,
            f.nullable,
            Decimal(1).scaleb(-f.scale),
            # Inexact: a non-zero digit past the scale; InvalidOperation: too many digits.
            Context(prec=f.precision, traps=[InvalidOperation, Inexact]),
            f"decimal({f.precision},{f.scale})",
        )
        for f in version.fields
        if f.kind == "decimal"
    )
    plan = lean_plan(version) if lean else None
    return _Writer(version, names, dropped, longs, instants, decimals, plan)


def _reader(writer: SchemaVersion, current: SchemaVersion, lean: bool) -> _Reader:
    enums: list[tuple[str, dict[str, Enum]]] = []
    for f in current.fields:
        if f.kind != "enum":
            continue
        enum_type = ENUM_TYPES.get(f.enum_name)
        if enum_type is None or not set(f.symbols) <= set(enum_type.__members__):
            raise SchemaRegistryError(f"{current.path.name}: enum {f.enum_name} has no Python twin")
        enums.append((f.name, {s: enum_type[s] for s in f.symbols}))
    return _Reader(
        writer=writer.parsed,
        # Same schema: skip resolution entirely, the fast path for nearly every record.
        reader=None if writer is current else current.parsed,
        cls=EVENT_TYPES[current.event_type],
        event_type=current.event_type,
        fingerprint=writer.fingerprint_hex,
        version=writer.version,
        decimals=tuple((f.name, -f.scale) for f in current.fields if f.kind == "decimal"),
        enums=tuple(enums),
        lean=lean_plan(current) if lean and writer is current else None,
    )


class AvroCodec:
    """Encodes events with the current schema and decodes any known version into events."""

    def __init__(
        self,
        registry: SchemaRegistry,
        framings: tuple[Framing, ...] = DEFAULT_FRAMINGS,
        *,
        lean: bool = True,
    ) -> None:
        """`lean=False` reads and writes every record through fastavro's logical types: the
        reference that codec.lean's fast read and write are tested against."""
        self.registry = registry
        self._framings = framings
        self._writers: dict[tuple[type[Event], int | None], _Writer] = {}
        for event_type in registry.event_types:
            cls = EVENT_TYPES[event_type]
            for version in registry.versions(event_type):
                self._writers[(cls, version.version)] = _writer(version, cls, lean)
            self._writers[(cls, None)] = self._writers[(cls, registry.current(event_type).version)]
        self._readers: dict[bytes, _Reader] = {
            v.fingerprint: _reader(v, registry.current(v.event_type), lean) for v in registry
        }

    def encode(self, event: Event, *, version: int | None = None) -> bytes:
        """Single-object bytes: C3 01, writer fingerprint, Avro body. Never rounds a value."""
        plan = self._writers.get((type(event), version))
        if plan is None:
            raise EncodeError(f"no schema version {version} for {type(event).__name__}")
        record = {name: getattr(event, name) for name in plan.names}
        for name in plan.dropped:
            if getattr(event, name) is not None:
                raise EncodeError(f"{name}: not in {plan.version.path.name}, cannot be written")
        for name, nullable in plan.longs:
            value = record[name]
            if value is None and nullable:
                continue
            # fastavro would write True as 1 and truncate 2.7 to 2 without complaint.
            if type(value) is not int or not LONG_MIN <= value <= LONG_MAX:
                raise EncodeError(f"{name}: {value!r} is not a 64-bit integer")
        for name, nullable in plan.instants:
            value = record[name]
            if value is None and nullable:
                continue
            # fastavro would take a naive datetime as UTC, silently.
            if not isinstance(value, datetime) or value.utcoffset() is None:
                raise EncodeError(f"{name}: {value!r} is not a timezone-aware datetime")
        for name, nullable, quantum, context, label in plan.decimals:
            value = record[name]
            if value is None and nullable:
                continue
            if type(value) is not Decimal or not value.is_finite():
                raise EncodeError(f"{name}: {value!r} is not a finite Decimal")
            try:
                # Exact rescale to the schema's scale: fastavro checks neither the digit count
                # against precision nor that trailing zeros past the scale are only zeros.
                record[name] = value.quantize(quantum, context=context)
            except DecimalException as err:
                raise EncodeError(f"{name}: {value} does not fit {label} exactly") from err
        schema = plan.version.parsed
        if plan.lean is not None:
            plain_values(plan.lean, record)
            schema = plan.lean.plain
        out = BytesIO()
        out.write(plan.version.header)
        try:
            schemaless_writer(out, schema, record)
        except Exception as err:
            raise EncodeError(f"{type(event).__name__}: {err}") from err
        return out.getvalue()

    def decode(self, data: bytes) -> DecodedEvent:
        """Resolve the writer by fingerprint, read into the current schema, build the event."""
        fingerprint, start = self._frame(data)
        reader = self._readers.get(fingerprint)
        if reader is None:
            raise UnknownSchema(fingerprint.hex())
        payload: dict[str, object] | None = None
        if reader.lean is not None:
            record, payload = read_lean(reader.lean, data, start)
        else:
            record = _read_resolved(reader, data, start)
        for name, members in reader.enums:
            value = record[name]
            if value is not None:
                record[name] = members[value]
        event = reader.cls(**record)
        if payload is None:
            payload = event_to_json_dict(event, self.registry)
        return DecodedEvent(event, reader.event_type, reader.fingerprint, reader.version, payload)

    def _frame(self, data: bytes) -> tuple[bytes, int]:
        """The writer fingerprint and body offset, by the first framing that knows the value."""
        for framing in self._framings:
            frame = framing.frame(data)
            if frame is None:
                continue
            if frame.fingerprint is None:
                raise WrongFraming(
                    f"{frame.framing} (schema id {frame.schema_id}), not Avro single-object "
                    "encoding: write C3 01, the schema's CRC-64-AVRO fingerprint, then the "
                    "Avro body (docs/producers.md)"
                )
            return frame.fingerprint, frame.body_start
        raise NotSingleObject("not Avro single-object encoded (no C3 01 marker or too short)")


def _read_resolved(reader: _Reader, data: bytes, start: int) -> dict[str, Any]:
    """An older writer's record: checked canonical in its own schema, then resolved into the
    current one (the full path, through fastavro's logical types; lean.py is the fast one)."""
    record = _read(reader, data, start, None)
    for name, exponent in reader.decimals:
        value = record.get(name)  # an older writer may lack a field the reader added
        # fastavro rounds a decimal with more digits than the precision; a changed
        # exponent is the trace of that rounding, so the body broke its schema.
        if value is not None and value.as_tuple().exponent != exponent:
            raise MalformedBody(f"{name}: decimal has more digits than its precision")
    check_canonical(reader.writer, record, data, start, _label(reader))
    # Resolve into the current schema only once the bytes are sound.
    return record if reader.reader is None else _read(reader, data, start, reader.reader)


def _read(reader: _Reader, data: bytes, start: int, resolve_to: Any) -> dict[str, Any]:
    return read_body(reader.writer, data, start, _label(reader), resolve_to)


def _label(reader: _Reader) -> str:
    return f"{reader.event_type} v{reader.version}"


@cache
def default_codec() -> AvroCodec:
    """The process-wide codec over default_registry()."""
    return AvroCodec(default_registry())


def encode(event: Event, *, version: int | None = None) -> bytes:
    """Encode with the current schema of the event's type (or an older `version`)."""
    return default_codec().encode(event, version=version)


def decode(data: bytes) -> DecodedEvent:
    """Decode single-object bytes written with any known schema version."""
    return default_codec().decode(data)
