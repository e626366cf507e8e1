"""The Avro contract: single-object framing, fingerprints, schema evolution and codec errors."""

from __future__ import annotations

import dataclasses
import io
import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastavro import schemaless_reader, schemaless_writer

from procledger.codec import avro
from procledger.codec.avro import AvroCodec, decode, encode
from procledger.codec.errors import (
    CodecError,
    EncodeError,
    MalformedBody,
    NotSingleObject,
    SchemaRegistryError,
    UnknownSchema,
    WrongFraming,
)
from procledger.codec.framing import SINGLE_OBJECT, Frame
from procledger.codec.schemas import SchemaRegistry, SchemaVersion, default_registry
from procledger.domain.events import EVENT_TYPES, Event, OrderPlaced, event_type
from procledger.domain.validation import DECIMAL_LIMITS
from procledger.resources import SCHEMAS_DIR_ENV, avro_schemas_dir
from tests.unit.event_samples import PLACED, PLACED_MINIMAL, SAMPLES

REGISTRY = default_registry()
ROOT = Path(__file__).resolve().parents[2]


# --- CRC-64-AVRO, written out from the Avro specification ("Schema Fingerprints") ---------

EMPTY64 = 0xC15D213AA4D7A795


def _table() -> list[int]:
    table = []
    for i in range(256):
        fp = i
        for _ in range(8):
            fp = (fp >> 1) ^ (EMPTY64 & -(fp & 1))
        table.append(fp)
    return table


FP_TABLE = _table()


def rabin64(data: bytes) -> int:
    fp = EMPTY64
    for byte in data:
        fp = (fp >> 8) ^ FP_TABLE[(fp ^ byte) & 0xFF]
    return fp


@pytest.mark.parametrize(
    ("canonical", "signed"),
    [
        # Published in Avro's share/test/data/schema-tests.txt as Java (signed) longs.
        ('"null"', 7195948357588979594),
        ('"boolean"', -6970731678124411036),
        ('"int"', 8247732601305521295),
        ('"long"', -3434872931120570953),
    ],
)
def test_rabin_reference_implementation_matches_published_vectors(
    canonical: str, signed: int
) -> None:
    assert rabin64(canonical.encode()) == signed & 0xFFFF_FFFF_FFFF_FFFF


@pytest.mark.parametrize("version", list(REGISTRY), ids=lambda v: v.path.name)
def test_fingerprint_is_crc64_avro_of_canonical_form_little_endian(version: SchemaVersion) -> None:
    expected = rabin64(version.canonical_form.encode("utf-8")).to_bytes(8, "little")
    assert version.fingerprint == expected
    assert version.fingerprint_hex == expected.hex()
    # The canonical form drops docs and whitespace: editing a doc never changes a fingerprint.
    assert '"doc"' not in version.canonical_form
    assert " " not in version.canonical_form


@pytest.mark.parametrize("name", list(SAMPLES))
def test_header_is_marker_then_current_fingerprint(name: str) -> None:
    event = SAMPLES[name]
    data = encode(event)
    current = REGISTRY.current(event_type(event))
    assert data[:2] == b"\xc3\x01"
    assert data[2:10] == rabin64(current.canonical_form.encode()).to_bytes(8, "little")


@pytest.mark.parametrize("name", list(SAMPLES))
def test_round_trip_every_event_type(name: str) -> None:
    event = SAMPLES[name]
    decoded = decode(encode(event))
    current = REGISTRY.current(event_type(event))
    assert decoded.event == event
    assert type(decoded.event) is type(event)
    assert decoded.event_type == event_type(event)
    assert decoded.schema_version == current.version
    assert decoded.fingerprint == current.fingerprint_hex


def test_every_event_type_has_a_schema() -> None:
    assert set(REGISTRY.event_types) == set(EVENT_TYPES)
    assert {e.__class__.__name__ for e in SAMPLES.values()} == set(EVENT_TYPES)


def test_decoded_values_carry_schema_scale_and_utc() -> None:
    got = decode(encode(PLACED)).event
    assert isinstance(got, OrderPlaced)
    assert str(got.unit_price) == "3000.5000"
    assert str(got.usd_rate) == "1.08440000"
    assert got.expected_delivery is not None
    assert got.expected_delivery.utcoffset() is not None
    assert got.expected_delivery == PLACED.expected_delivery


# --- schema evolution ----------------------------------------------------------------------


def test_v1_bytes_are_read_by_the_current_reader_with_the_default() -> None:
    v1 = REGISTRY.versions("OrderPlaced")[0]
    assert v1.version == 1
    # Written by hand with fastavro and the v1 file, as an old producer would have.
    record = {f.name: getattr(PLACED_MINIMAL, f.name) for f in v1.fields}
    record["unit_price"] = Decimal("0.0001")
    record["usd_rate"] = Decimal("0.24300000")
    body = io.BytesIO()
    schemaless_writer(body, v1.parsed, record)
    decoded = decode(b"\xc3\x01" + v1.fingerprint + body.getvalue())
    assert decoded.schema_version == 1
    assert decoded.fingerprint == v1.fingerprint_hex
    assert decoded.event == PLACED_MINIMAL
    assert isinstance(decoded.event, OrderPlaced)
    assert decoded.event.expected_delivery is None


def test_encode_with_an_older_version_and_read_back() -> None:
    data = encode(PLACED_MINIMAL, version=1)
    assert data[2:10] == REGISTRY.versions("OrderPlaced")[0].fingerprint
    assert decode(data).event == PLACED_MINIMAL


def test_encode_with_an_older_version_refuses_to_drop_a_set_field() -> None:
    with pytest.raises(EncodeError, match="expected_delivery"):
        encode(PLACED, version=1)
    with pytest.raises(EncodeError, match="no schema version 9"):
        encode(PLACED, version=9)


def test_current_writer_output_is_readable_by_the_v1_reader() -> None:
    v1, v2 = REGISTRY.versions("OrderPlaced")[:2]
    data = encode(PLACED)
    assert data[2:10] == v2.fingerprint
    old = schemaless_reader(io.BytesIO(data[10:]), v2.parsed, v1.parsed)
    assert isinstance(old, dict)
    assert "expected_delivery" not in old
    assert old["order_id"] == PLACED.order_id
    assert old["unit_price"] == PLACED.unit_price
    assert old["purpose"] == PLACED.purpose.value


def _avro_type(spec: Any) -> Any:
    """A field type with the attributes that matter for compatibility (logical types too)."""
    if isinstance(spec, list):
        return [_avro_type(s) for s in spec]
    if isinstance(spec, dict):
        return {k: v for k, v in spec.items() if k not in {"doc", "default"}}
    return spec


def _static_problems(reader: SchemaVersion, writer: SchemaVersion) -> list[str]:
    """Why `reader` cannot read `writer`'s data (a stricter subset of Avro resolution)."""
    problems = []
    writer_fields = {f["name"]: f for f in writer.schema["fields"]}
    for field in reader.schema["fields"]:
        name = field["name"]
        if name not in writer_fields:
            if "default" not in field:
                problems.append(f"{name}: added without a default")
            continue
        old, new = _avro_type(writer_fields[name]["type"]), _avro_type(field["type"])
        if isinstance(old, dict) and isinstance(new, dict) and old.get("type") == "enum":
            if not set(old["symbols"]) <= set(new["symbols"]) and "default" not in field["type"]:
                problems.append(f"{name}: enum symbols removed and no enum default")
        elif old != new:
            problems.append(f"{name}: type changed from {old} to {new}")
    return problems


def _sample_value(avro_type: Any) -> Any:
    if isinstance(avro_type, list):
        return _sample_value(avro_type[1])
    if isinstance(avro_type, dict):
        logical = avro_type.get("logicalType")
        if logical == "decimal":
            return Decimal(1).scaleb(-avro_type.get("scale", 0))
        if logical == "timestamp-micros":
            return datetime(2023, 6, 15, tzinfo=UTC)
        if avro_type["type"] == "enum":
            return avro_type["symbols"][0]
        return _sample_value(avro_type["type"])
    return {"string": "x", "long": 7}[avro_type]


def _data_round_trip(writer: SchemaVersion, reader: SchemaVersion) -> None:
    record = {f["name"]: _sample_value(f["type"]) for f in writer.schema["fields"]}
    body = io.BytesIO()
    schemaless_writer(body, writer.parsed, record)
    body.seek(0)
    got = schemaless_reader(body, writer.parsed, reader.parsed)
    assert isinstance(got, dict)
    for field in reader.schema["fields"]:
        name = field["name"]
        assert got[name] == record.get(name, field.get("default")), name


def _pairs() -> list[tuple[SchemaVersion, SchemaVersion]]:
    return [
        (older, newer)
        for event_type_name in REGISTRY.event_types
        for older, newer in zip(
            REGISTRY.versions(event_type_name), REGISTRY.versions(event_type_name)[1:], strict=False
        )
    ]


def test_there_is_at_least_one_evolution_to_check() -> None:
    assert any(old.event_type == "OrderPlaced" for old, _ in _pairs())


@pytest.mark.parametrize(
    ("older", "newer"), _pairs(), ids=lambda v: v.path.name if hasattr(v, "path") else str(v)
)
def test_consecutive_versions_are_backward_and_forward_compatible(
    older: SchemaVersion, newer: SchemaVersion
) -> None:
    assert _static_problems(newer, older) == [], "backward: new reader, old data"
    assert _static_problems(older, newer) == [], "forward: old reader, new data"
    _data_round_trip(older, newer)
    _data_round_trip(newer, older)


def test_the_compatibility_check_catches_an_incompatible_change() -> None:
    v1 = REGISTRY.versions("OrderPlaced")[0]
    schema = json.loads(json.dumps(v1.schema))
    schema["fields"].append({"name": "priority", "type": "long"})
    for field in schema["fields"]:
        if field["name"] == "unit_price":
            field["type"]["scale"] = 2
    broken = dataclasses.replace(v1, schema=schema)
    problems = _static_problems(broken, v1)
    assert any("priority" in p for p in problems)
    assert any("unit_price" in p for p in problems)


def test_decimal_limits_of_the_schemas_are_the_validation_limits() -> None:
    seen = set()
    for version in REGISTRY:
        for field in version.fields:
            if field.kind == "decimal":
                assert DECIMAL_LIMITS[field.name] == (field.precision, field.scale), field
                seen.add(field.name)
    assert seen == set(DECIMAL_LIMITS)


# --- decode errors -------------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"\xc3", b"\xc3\x01\x00", b"\xc3\x01" + bytes(7)])
def test_too_short_is_not_single_object(data: bytes) -> None:
    with pytest.raises(NotSingleObject) as err:
        decode(data)
    assert err.value.code == "UNDECODABLE"


def test_missing_marker_is_not_single_object() -> None:
    data = encode(PLACED)
    for bad in (b"\xc3\x00" + data[2:], b"\x00\x01" + data[2:], b'{"type":"OrderPlaced"}'):
        with pytest.raises(NotSingleObject):
            decode(bad)


def test_confluent_framing_is_recognised_and_rejected_naming_the_schema_id() -> None:
    body = encode(PLACED)[10:]
    with pytest.raises(WrongFraming) as err:
        decode(b"\x00" + (1234).to_bytes(4, "big") + body)
    assert err.value.code == "WRONG_FRAMING"
    assert "Confluent Schema Registry framing (schema id 1234)" in str(err.value)
    # Too short for Confluent's five header bytes: plain undecodable, no guessed framing.
    with pytest.raises(NotSingleObject) as short:
        decode(b"\x00\x00\x01")
    assert short.value.code == "UNDECODABLE"


class _IdFraming:
    """A second readable framing as one adapter: FF, a 1-byte id mapped to a fingerprint."""

    name = "test id framing"

    def __init__(self, fingerprints: dict[int, bytes]) -> None:
        self.fingerprints = fingerprints

    def frame(self, data: bytes) -> Frame | None:
        if len(data) < 2 or data[0] != 0xFF:
            return None
        return Frame(self.name, self.fingerprints.get(data[1]), 2, data[1])


def test_a_second_framing_is_one_adapter() -> None:
    current = REGISTRY.current("OrderPlaced")
    codec = AvroCodec(REGISTRY, framings=(SINGLE_OBJECT, _IdFraming({7: current.fingerprint})))
    body = encode(PLACED)[10:]
    assert codec.decode(b"\xff\x07" + body).event == PLACED
    assert codec.decode(encode(PLACED)).event == PLACED
    with pytest.raises(WrongFraming, match="schema id 8"):
        codec.decode(b"\xff\x08" + body)


def test_unknown_fingerprint() -> None:
    data = encode(PLACED)
    with pytest.raises(UnknownSchema) as err:
        decode(b"\xc3\x01" + bytes(8) + data[10:])
    assert err.value.code == "UNKNOWN_SCHEMA"
    assert err.value.fingerprint == "00" * 8


@pytest.mark.parametrize("name", list(SAMPLES))
def test_truncated_body_is_malformed(name: str) -> None:
    data = encode(SAMPLES[name])
    for cut in (1, 2, len(data) - 10):
        with pytest.raises(MalformedBody) as err:
            decode(data[:-cut])
        assert err.value.code == "UNDECODABLE"


def test_header_only_is_malformed() -> None:
    with pytest.raises(MalformedBody):
        decode(encode(PLACED)[:10])


def test_invalid_utf8_is_malformed() -> None:
    data = encode(PLACED)
    assert b"Rheinmetall" in data
    with pytest.raises(MalformedBody, match="UnicodeDecodeError"):
        decode(data.replace(b"Rheinmetall", b"Rhein\xff\xfetall"))


def test_trailing_bytes_are_malformed() -> None:
    with pytest.raises(MalformedBody, match="after the record"):
        decode(encode(PLACED) + b"\x00")


def test_decimal_beyond_precision_in_the_body_is_malformed() -> None:
    current = REGISTRY.current("OrderPlaced")
    record = {f.name: getattr(PLACED, f.name) for f in current.fields}
    # 15 significant digits pass fastavro's check, but at scale 4 they are 19 unscaled digits:
    # fastavro writes them and would read them back rounded; the codec must refuse instead.
    record["unit_price"] = Decimal("123456789012345")
    record["usd_rate"] = Decimal("1.08440000")
    body = io.BytesIO()
    schemaless_writer(body, current.parsed, record)
    with pytest.raises(MalformedBody, match="unit_price"):
        decode(current.header + body.getvalue())


def _zigzag_varint(value: int, *, pad_to: int = 0) -> bytes:
    """Avro's long encoding; pad_to > its length writes the same value in more bytes."""
    rest = (value << 1) ^ (value >> 63)
    out = bytearray()
    while rest > 0x7F or len(out) + 1 < pad_to:
        out.append(0x80 | (rest & 0x7F))
        rest >>= 7
    out.append(rest)
    return bytes(out)


@pytest.mark.parametrize(
    "long_form",
    [
        # The same quantity in 6 bytes instead of 4: a writer never emits it.
        _zigzag_varint(123_456_789, pad_to=6),
        # 11 bytes: past Avro's 10-byte limit; fastavro reads 0x80 * 10 + 0x02 as 64.
        b"\x80" * 10 + b"\x02",
    ],
)
def test_an_over_long_number_is_malformed_never_wrapped(long_form: bytes) -> None:
    data = encode(dataclasses.replace(PLACED, quantity=123_456_789))
    minimal = _zigzag_varint(123_456_789)
    assert data.count(minimal) == 1
    forged = data.replace(minimal, long_form)
    with pytest.raises(MalformedBody, match="not canonical"):
        decode(forged)


def test_an_over_long_number_from_an_older_writer_is_malformed() -> None:
    data = encode(dataclasses.replace(PLACED_MINIMAL, quantity=123_456_789), version=1)
    forged = data.replace(_zigzag_varint(123_456_789), _zigzag_varint(123_456_789, pad_to=7))
    with pytest.raises(MalformedBody, match="OrderPlaced v1: body is not canonical"):
        decode(forged)


def test_enum_index_out_of_range_is_malformed() -> None:
    data = encode(PLACED)
    # The purpose enum index (UKRAINE_SUPPORT = 1 -> zig-zag 0x02) sits right after usd_rate.
    rate = b"\x08" + (108440000).to_bytes(4, "big")
    index = data.index(rate) + len(rate)
    assert data[index] == 0x02
    with pytest.raises(MalformedBody):
        decode(data[:index] + b"\x10" + data[index + 1 :])


def test_codec_errors_share_the_base() -> None:
    for cls in (NotSingleObject, UnknownSchema, MalformedBody, EncodeError):
        assert issubclass(cls, CodecError)


# --- encode errors -------------------------------------------------------------------------

NAIVE = datetime(2023, 6, 15, 9, 30)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"quantity": 2**63}, "quantity"),
        ({"quantity": -(2**63) - 1}, "quantity"),
        ({"quantity": True}, "quantity"),
        ({"quantity": 2.0}, "quantity"),
        ({"caliber_mm": "155"}, "caliber_mm"),
        ({"occurred_at": NAIVE}, "occurred_at"),
        ({"expected_delivery": NAIVE}, "expected_delivery"),
        ({"occurred_at": 1686821400000000}, "occurred_at"),
        ({"unit_price": Decimal("0.00001")}, "unit_price"),
        ({"unit_price": Decimal("100000000000000")}, "unit_price"),
        ({"unit_price": Decimal("1E+30")}, "unit_price"),
        ({"unit_price": Decimal("NaN")}, "unit_price"),
        ({"unit_price": Decimal("Infinity")}, "unit_price"),
        ({"unit_price": 3000.5}, "unit_price"),
        ({"unit_price": 3000}, "unit_price"),
        ({"usd_rate": Decimal("1.000000001")}, "usd_rate"),
        ({"supplier": 42}, "supplier"),
        ({"supplier": "\udc80"}, "OrderPlaced"),
        ({"purpose": "WAR_CHEST"}, "OrderPlaced"),
        ({"order_id": None}, "OrderPlaced"),
    ],
)
def test_values_that_do_not_fit_the_schema_raise_encode_error(
    changes: dict[str, Any], field: str
) -> None:
    event = dataclasses.replace(PLACED, **changes)
    with pytest.raises(EncodeError, match=field):
        encode(event)


def test_non_events_do_not_encode() -> None:
    with pytest.raises(EncodeError):
        encode("OrderPlaced")  # type: ignore[arg-type]


def test_exact_rescaling_is_not_rounding() -> None:
    event = dataclasses.replace(PLACED, unit_price=Decimal("3000.50000000"))
    decoded = decode(encode(event)).event
    assert isinstance(decoded, OrderPlaced)
    assert decoded.unit_price == Decimal("3000.5")


# --- the registry --------------------------------------------------------------------------


def test_by_fingerprint_accepts_bytes_hex_and_integers() -> None:
    current = REGISTRY.current("OrderCancelled")
    as_int = int.from_bytes(current.fingerprint, "little")
    signed = as_int - 2**64 if as_int >= 2**63 else as_int
    for key in (current.fingerprint, current.fingerprint_hex, as_int, signed):
        assert REGISTRY.by_fingerprint(key) is current
    assert REGISTRY.by_fingerprint(bytes(8)) is None


def test_schemas_dir_is_the_packaged_repository_folder_unless_configured(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # The editable install maps procledger.schemas onto the repository's schemas/ folder.
    monkeypatch.delenv(SCHEMAS_DIR_ENV, raising=False)
    assert avro_schemas_dir() == ROOT / "schemas" / "avro"
    monkeypatch.setenv(SCHEMAS_DIR_ENV, str(tmp_path))
    assert avro_schemas_dir() == tmp_path


def _copy_schemas(tmp_path: Path) -> Path:
    folder = tmp_path / "avro"
    shutil.copytree(ROOT / "schemas" / "avro", folder)
    return folder


def test_a_registry_from_another_folder_decodes_alike(tmp_path: Path) -> None:
    codec = AvroCodec(SchemaRegistry.from_directory(_copy_schemas(tmp_path)))
    assert codec.decode(encode(PLACED)).event == PLACED
    assert decode(codec.encode(PLACED)).event == PLACED


def test_identical_versions_collide(tmp_path: Path) -> None:
    folder = _copy_schemas(tmp_path)
    shutil.copy(folder / "OrderCancelled.v1.avsc", folder / "OrderCancelled.v2.avsc")
    with pytest.raises(SchemaRegistryError, match="share fingerprint"):
        SchemaRegistry.from_directory(folder)


def test_version_gaps_are_refused(tmp_path: Path) -> None:
    folder = _copy_schemas(tmp_path)
    (folder / "OrderCancelled.v1.avsc").rename(folder / "OrderCancelled.v3.avsc")
    with pytest.raises(SchemaRegistryError, match=r"1\.\.N"):
        SchemaRegistry.from_directory(folder)


def test_a_current_schema_must_match_the_dataclass(tmp_path: Path) -> None:
    folder = _copy_schemas(tmp_path)
    schema = json.loads((folder / "OrderCancelled.v1.avsc").read_text())
    schema["fields"].append({"name": "note", "type": ["null", "string"], "default": None})
    (folder / "OrderCancelled.v2.avsc").write_text(json.dumps(schema))
    with pytest.raises(SchemaRegistryError, match="differ from OrderCancelled"):
        SchemaRegistry.from_directory(folder)


def test_a_record_name_must_match_its_file(tmp_path: Path) -> None:
    folder = _copy_schemas(tmp_path)
    (folder / "OrderCancelled.v1.avsc").rename(folder / "OrderVoided.v1.avsc")
    with pytest.raises(SchemaRegistryError, match="OrderVoided"):
        SchemaRegistry.from_directory(folder)


def test_module_functions_use_one_precompiled_codec() -> None:
    assert avro.default_codec() is avro.default_codec()


def _all_events() -> list[Event]:
    return list(SAMPLES.values())


def test_canonical_json_of_decoded_equals_original() -> None:
    for event in _all_events():
        assert avro.canonical_json(decode(encode(event)).event) == avro.canonical_json(event)
