"""Input files for `procledger publish`: open or spool, and stream parsed lines, twice."""

from __future__ import annotations

import csv
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

from procledger.codec.textformats import (
    LINE,
    LineError,
    LineFilter,
    ParsedLine,
    read_jsonl,
    read_orders_csv,
)
from procledger.domain.events import Event

FORMATS = ("jsonl", "csv")
NOT_UTF8 = "not valid UTF-8"
_SPOOL_CHUNK = 1 << 20


class InputError(Exception):
    """The input as a whole cannot be used (missing, unreadable, empty); names the file."""


def guess_format(name: str) -> str:
    """csv for *.csv, jsonl for anything else (stdin included)."""
    return "csv" if name.lower().endswith(".csv") else "jsonl"


@contextmanager
def input_path(name: str) -> Iterator[Path]:
    """The file to read twice: `name`, or for "-" standard input spooled to a temporary file."""
    if name != "-":
        path = Path(name)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            raise InputError(f"{name}: no such file") from None
        except OSError as err:
            raise InputError(f"{name}: cannot be read: {err.strerror}") from None
        if path.is_dir():
            raise InputError(f"{name}: is a directory, not a file")
        if not os.access(path, os.R_OK):
            raise InputError(f"{name}: cannot be read: permission denied")
        if size == 0 and path.is_file():
            raise InputError(f"{name}: the file is empty")
        yield path
        return
    # Standard input can be read only once, and pass 1 must finish before pass 2 starts.
    with tempfile.TemporaryDirectory(prefix="procledger-publish-") as tmp:
        spool = Path(tmp) / "stdin"
        with spool.open("wb") as out:
            shutil.copyfileobj(sys.stdin.buffer, out, _SPOOL_CHUNK)
        if spool.stat().st_size == 0:
            raise InputError("standard input is empty")
        yield spool


class _Utf8Tracker:
    """A text source that remembers where lines held bytes that are not UTF-8.

    The file is decoded with surrogateescape, so a bad byte becomes a lone surrogate instead
    of aborting the whole read; strict UTF-8 text can never contain one, so any is a bad byte.
    """

    def __init__(self, stream: TextIO, on_bytes: Callable[[int], object] | None) -> None:
        self._stream = stream
        self._on_bytes = on_bytes
        self._line = 1
        self._offset = 0  # bytes of the file before the current line
        self.header = ""
        self.bad: dict[int, tuple[str, str]] = {}  # line -> (its text, where the byte is)

    def readline(self, size: int = -1, /) -> str:
        chunk = self._stream.readline(size)
        if self._line == 1 and not self.header:
            self.header = chunk
        # isascii() first: nearly every line is ASCII, and then no byte can be escaped.
        if chunk.isascii():
            length = len(chunk)
        else:
            length = len(chunk.encode("utf-8", "surrogateescape"))
            bad = next((i for i, ch in enumerate(chunk) if "\udc80" <= ch <= "\udcff"), None)
            if bad is not None and self._line not in self.bad:
                self.bad[self._line] = (chunk, self._where(chunk, bad))
        self._offset += length
        if self._on_bytes is not None:
            self._on_bytes(length)
        if chunk.endswith("\n"):
            self._line += 1
        return chunk

    def _where(self, chunk: str, index: int) -> str:
        before = len(chunk[:index].encode("utf-8", "surrogateescape"))
        byte = ord(chunk[index]) - 0xDC00
        return (
            f"byte 0x{byte:02X} at column {index + 1} (file offset {self._offset + before}); "
            "save the file as UTF-8 (from Latin-1: iconv -f latin1 -t utf-8)"
        )


def _csv_field(header: str, text: str) -> str:
    """The CSV column whose cell holds the first bad byte, or LINE if it cannot be told."""
    try:
        names = next(csv.reader([header.lstrip("\ufeff").rstrip("\r\n")]))
        cells = next(csv.reader([text.rstrip("\r\n")]))
    except (csv.Error, StopIteration):
        return LINE
    for name, cell in zip(names, cells, strict=False):
        if any("\udc80" <= ch <= "\udcff" for ch in cell):
            return name
    return LINE


def parsed_lines(
    path: Path,
    fmt: str,
    on_bytes: Callable[[int], object] | None = None,
    keep: LineFilter | None = None,
) -> Iterator[ParsedLine]:
    """Every parsed line of the file; lines with bytes that are not UTF-8 get only that error,
    naming the byte, its column and file offset (and for CSV the column's name). `on_bytes`
    is told how many bytes each read took (a progress bar over the file's size); `keep`
    skips, unparsed, the lines it refuses."""
    with path.open(encoding="utf-8-sig", errors="surrogateescape") as stream:
        tracker = _Utf8Tracker(stream, on_bytes)
        reader = (
            read_orders_csv(tracker, keep=keep) if fmt == "csv" else read_jsonl(tracker, keep=keep)
        )
        for parsed in reader:
            found = tracker.bad.pop(parsed.line, None)
            if found is None:
                yield parsed
                continue
            text, where = found
            field = _csv_field(tracker.header, text) if fmt == "csv" and parsed.line > 1 else LINE
            error = LineError(parsed.line, field, f"{NOT_UTF8}: {where}")
            yield ParsedLine(parsed.line, None, (error,))


class InputChanged(Exception):
    """Pass 2 met a line that pass 1 accepted: the file was modified in between."""


def valid_events(
    path: Path, fmt: str, keep: LineFilter | None = None
) -> Iterator[tuple[int, Event]]:
    """Pass 2 over a file pass 1 found valid: (line number, event); InputChanged otherwise."""
    for parsed in parsed_lines(path, fmt, keep=keep):
        if parsed.event is None:
            first = parsed.errors[0]
            raise InputChanged(
                f"line {first.line}: {first.field}: {first.reason} (it was valid in pass 1)"
            )
        yield parsed.line, parsed.event
