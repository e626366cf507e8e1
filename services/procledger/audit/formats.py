"""Output formats shared by the CLI and the API: aligned text tables, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from typing import Any

FORMATS = ("table", "json", "csv")
# Columns whose null means "not applicable" rather than "unknown": shown as a word, as the
# business metrics label them (caliber_mm="none"), so a blank cell never looks like lost data.
NONE_WORDS = {"caliber_mm": "none"}


def _cell(value: Any, column: str = "") -> str:
    if value is None:
        return NONE_WORDS.get(column, "")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return str(value)


def to_json(data: Any) -> str:
    """Pretty JSON; money is already text, so nothing passes through a float."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def to_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """RFC 4180 CSV with a header; null is an empty cell, nested values are compact JSON."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([_cell(row.get(c), c) for c in columns])
    return out.getvalue()


def to_table(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """Columns padded to width; numbers (and money strings) right-aligned."""
    cells = [[_cell(row.get(c), c) for c in columns] for row in rows]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    numeric = [
        bool(rows) and all(_numeric(row.get(c)) for row in rows if row.get(c) is not None)
        for c in columns
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [line(columns), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    return "\n".join(lines) + "\n"


def _numeric(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, int):
        return True
    if isinstance(value, str):
        stripped = value.lstrip("-")
        return stripped.replace(".", "", 1).isdigit()
    return False


def to_fields(data: Mapping[str, Any]) -> str:
    """A record as 'key: value' lines (nested values as compact JSON)."""
    width = max((len(k) for k in data), default=0)
    return "".join(f"{k.ljust(width)}  {_cell(v, k)}\n" for k, v in data.items())


def render_rows(fmt: str, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    """A list in the chosen format (JSON: an array of objects)."""
    if fmt == "json":
        return to_json(list(rows))
    if fmt == "csv":
        return to_csv(columns, rows)
    return to_table(columns, rows)
