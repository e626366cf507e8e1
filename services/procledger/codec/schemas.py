"""The schema registry: every Avro version file with its canonical form and fingerprint."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

from fastavro.schema import fingerprint as avro_fingerprint
from fastavro.schema import parse_schema, to_parsing_canonical_form

from procledger.codec.errors import SchemaRegistryError
from procledger.domain.events import EVENT_TYPES
from procledger.resources import avro_schemas_dir

NAMESPACE = "procledger.events"
# Avro single-object encoding: this marker, then the 8-byte little-endian CRC-64-AVRO.
MAGIC = b"\xc3\x01"
HEADER_LENGTH = len(MAGIC) + 8

_FILE_NAME = re.compile(r"(?P<type>[A-Z][A-Za-z0-9]*)\.v(?P<version>[1-9][0-9]*)\.avsc")

FieldKind = Literal["string", "long", "timestamp", "decimal", "enum"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One record field reduced to what the codecs need: its kind and its limits."""

    name: str
    kind: FieldKind
    nullable: bool
    precision: int = 0
    scale: int = 0
    symbols: tuple[str, ...] = ()
    enum_name: str = ""


@dataclass(frozen=True, slots=True)
class SchemaVersion:
    """One version file of one event type, parsed once for the process's lifetime."""

    event_type: str
    version: int
    path: Path
    schema: Mapping[str, Any]
    parsed: dict[str, Any]
    canonical_form: str
    fingerprint: bytes
    fields: tuple[FieldSpec, ...]

    @property
    def fingerprint_hex(self) -> str:
        """The fingerprint's 8 wire bytes in hex (the same string fastavro and Java print)."""
        return self.fingerprint.hex()

    @property
    def header(self) -> bytes:
        """The single-object prefix of every record written with this version."""
        return MAGIC + self.fingerprint


def fingerprint_bytes(canonical_form: str) -> bytes:
    """CRC-64-AVRO of a Parsing Canonical Form, as the 8 little-endian bytes of the spec."""
    # fastavro returns the hex of exactly those little-endian bytes (as Java's
    # SchemaNormalization.parsingFingerprint does); test_codec checks it against the spec.
    return bytes.fromhex(avro_fingerprint(canonical_form, "CRC-64-AVRO"))


def _field_spec(field: Mapping[str, Any], where: str) -> FieldSpec:
    name = field["name"]
    avro_type = field["type"]
    nullable = False
    if isinstance(avro_type, list):
        if len(avro_type) != 2 or avro_type[0] != "null" or "default" not in field:
            raise SchemaRegistryError(f"{where}.{name}: unions must be ['null', T] default null")
        nullable, avro_type = True, avro_type[1]
    base = avro_type if isinstance(avro_type, str) else avro_type.get("type")
    logical = None if isinstance(avro_type, str) else avro_type.get("logicalType")
    if base == "string" and logical is None:
        return FieldSpec(name, "string", nullable)
    if base == "long" and logical is None:
        return FieldSpec(name, "long", nullable)
    if base == "long" and logical == "timestamp-micros":
        return FieldSpec(name, "timestamp", nullable)
    if base == "bytes" and logical == "decimal":
        precision, scale = int(avro_type["precision"]), int(avro_type.get("scale", 0))
        return FieldSpec(name, "decimal", nullable, precision, scale)
    if base == "enum":
        symbols = tuple(avro_type["symbols"])
        return FieldSpec(name, "enum", nullable, symbols=symbols, enum_name=avro_type["name"])
    # The codecs handle exactly these kinds; anything else needs code, not just a schema.
    raise SchemaRegistryError(f"{where}.{name}: unsupported field type {avro_type!r}")


def load_schema_file(path: Path) -> SchemaVersion:
    """Parse one `<EventType>.v<N>.avsc` file; the name must match the record inside."""
    match = _FILE_NAME.fullmatch(path.name)
    if match is None:
        raise SchemaRegistryError(f"{path.name}: expected a name like OrderPlaced.v1.avsc")
    event_type, version = match["type"], int(match["version"])
    try:
        schema = json.loads(path.read_text(encoding="utf-8"))
        parsed: dict[str, Any] = parse_schema(schema, named_schemas={})  # type: ignore[assignment]
    except Exception as err:
        raise SchemaRegistryError(f"{path.name}: not a valid Avro schema: {err}") from err
    if schema.get("type") != "record" or schema.get("name") != event_type:
        raise SchemaRegistryError(f"{path.name}: must define the record {event_type}")
    if schema.get("namespace") != NAMESPACE:
        raise SchemaRegistryError(f"{path.name}: namespace must be {NAMESPACE}")
    canonical = to_parsing_canonical_form(schema)
    fields = tuple(_field_spec(f, event_type) for f in schema["fields"])
    return SchemaVersion(
        event_type, version, path, schema, parsed, canonical, fingerprint_bytes(canonical), fields
    )


class SchemaRegistry:
    """In-process, file-backed: fingerprint -> writer version, event type -> current version."""

    def __init__(self, versions: Iterable[SchemaVersion]) -> None:
        by_type: dict[str, list[SchemaVersion]] = {}
        self._by_fingerprint: dict[bytes, SchemaVersion] = {}
        for version in versions:
            clash = self._by_fingerprint.get(version.fingerprint)
            if clash is not None:
                # Possible when two files differ only in logical types, docs or defaults.
                raise SchemaRegistryError(
                    f"{version.path.name} and {clash.path.name} share fingerprint "
                    f"{version.fingerprint_hex}"
                )
            self._by_fingerprint[version.fingerprint] = version
            by_type.setdefault(version.event_type, []).append(version)
        self._versions: dict[str, tuple[SchemaVersion, ...]] = {}
        for event_type, found in sorted(by_type.items()):
            found.sort(key=lambda v: v.version)
            numbers = [v.version for v in found]
            if numbers != list(range(1, len(found) + 1)):
                raise SchemaRegistryError(f"{event_type}: versions must be 1..N, found {numbers}")
            self._versions[event_type] = tuple(found)
        self._check_domain()

    def _check_domain(self) -> None:
        # The current schema and the dataclass must name the same fields, or decode breaks.
        if set(self._versions) != set(EVENT_TYPES):
            raise SchemaRegistryError(
                f"schemas cover {sorted(self._versions)}, events are {sorted(EVENT_TYPES)}"
            )
        for event_type, cls in EVENT_TYPES.items():
            current = self.current(event_type)
            in_schema = [f.name for f in current.fields]
            in_class = [f.name for f in dataclasses.fields(cls)]
            if in_schema != in_class:
                raise SchemaRegistryError(
                    f"{current.path.name} fields {in_schema} differ from {cls.__name__} "
                    f"fields {in_class}"
                )

    @classmethod
    def from_directory(cls, directory: Path | None = None) -> SchemaRegistry:
        """Load every *.avsc file of a folder (default: the packaged avro/)."""
        folder = directory if directory is not None else avro_schemas_dir()
        paths = sorted(folder.glob("*.avsc"))
        if not paths:
            raise SchemaRegistryError(f"no .avsc files in {folder}")
        return cls(load_schema_file(p) for p in paths)

    def by_fingerprint(self, fingerprint: bytes | int | str) -> SchemaVersion | None:
        """The version with this fingerprint: 8 wire bytes, their hex, or the 64-bit value."""
        if isinstance(fingerprint, int):
            fingerprint = (fingerprint & 0xFFFF_FFFF_FFFF_FFFF).to_bytes(8, "little")
        elif isinstance(fingerprint, str):
            fingerprint = bytes.fromhex(fingerprint)
        return self._by_fingerprint.get(fingerprint)

    def current(self, event_type: str) -> SchemaVersion:
        """The highest version: what encode writes and what decode reads into."""
        return self._versions[event_type][-1]

    def versions(self, event_type: str) -> tuple[SchemaVersion, ...]:
        """All versions of a type, oldest first."""
        return self._versions[event_type]

    @property
    def event_types(self) -> tuple[str, ...]:
        return tuple(self._versions)

    def __iter__(self) -> Iterator[SchemaVersion]:
        for versions in self._versions.values():
            yield from versions


@cache
def default_registry() -> SchemaRegistry:
    """The process-wide registry, loaded from avro_schemas_dir() on first use."""
    return SchemaRegistry.from_directory()
