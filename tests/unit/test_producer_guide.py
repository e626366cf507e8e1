"""docs/producers.md's fingerprint table is the one schemas/avro/ generates."""

from __future__ import annotations

from pathlib import Path

from procledger.codec.fingerprints import BEGIN, END, rewrite, section
from procledger.codec.schemas import default_registry

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "producers.md"


def test_the_guide_holds_the_generated_fingerprint_table() -> None:
    text = GUIDE.read_text(encoding="utf-8")
    assert text.count(BEGIN) == 1 and text.count(END) == 1
    assert section(default_registry()) in text, (
        "regenerate: python -m procledger.codec.fingerprints docs/producers.md"
    )
    assert rewrite(text, default_registry()) == text


def test_every_schema_version_has_a_row_with_its_header() -> None:
    table = section(default_registry())
    for version in default_registry():
        row = f"| `{version.event_type}` | {version.version} |"
        assert row in table
        assert f"`{version.header.hex()}`" in table
        # Java's parsingFingerprint64 is the same 8 bytes as a little-endian signed long.
        assert f"`{int.from_bytes(version.fingerprint, 'little', signed=True)}`" in table
