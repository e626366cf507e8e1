"""Log setup for every command: readable text, or one JSON object per line (LOG_FORMAT=json)."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from datetime import UTC, datetime

FORMATS = ("text", "json")
TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time (UTC, ISO 8601), level, logger, message, and the
    exception's traceback when there is one, so a log shipper needs no parsing rules."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class LibraryWarningsToDebug(logging.Filter):
    """kafka-python's internal warnings ("Task ... blocking the event loop", reconnects it
    retries by itself) are not the user's business: they become DEBUG records, shown only at
    --log-level DEBUG. Failures reach the user as the command's own error messages."""

    def __init__(self, level: int, prefixes: tuple[str, ...] = ("kafka.",)) -> None:
        super().__init__()
        self._level = level
        self._prefixes = prefixes

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.name.startswith(self._prefixes):
            record.levelno, record.levelname = logging.DEBUG, "DEBUG"
            return self._level <= logging.DEBUG
        return True


def configure(level: int, fmt: str) -> None:
    """Root logging to stderr in `fmt` (one of FORMATS); the Kafka and migration libraries'
    chatter only from WARNING up, and kafka-python's warnings only at DEBUG."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(LibraryWarningsToDebug(level))
    logging.basicConfig(level=level, handlers=[handler], force=True)
    logging.getLogger("kafka").setLevel(max(level, logging.WARNING))
    logging.getLogger("yoyo").setLevel(max(level, logging.WARNING))


def add_options(parser: argparse.ArgumentParser) -> None:
    """--log-level and --log-format, with LOG_LEVEL and LOG_FORMAT as their defaults."""
    parser.add_argument(
        "--log-level",
        default=os.environ.get("LOG_LEVEL", "INFO"),
        help="DEBUG, INFO, WARNING or ERROR (env LOG_LEVEL; default INFO)",
    )
    parser.add_argument(
        "--log-format",
        default=os.environ.get("LOG_FORMAT") or "text",
        help="text (default) or json: one JSON object per line (env LOG_FORMAT)",
    )


def configure_from(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Check the options add_options() declared (a bad one is a usage error), then configure."""
    level = getattr(logging, str(args.log_level).upper(), None)
    if not isinstance(level, int):
        parser.error(f"--log-level: unknown level {args.log_level!r}")
    if args.log_format not in FORMATS:
        parser.error(
            f"--log-format (env LOG_FORMAT): must be text or json, got {args.log_format!r}"
        )
    configure(level, args.log_format)
