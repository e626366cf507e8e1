"""kafka-python's internal warnings stay out of the user's output unless they ask for DEBUG."""

from __future__ import annotations

import logging

from procledger.logs import LibraryWarningsToDebug


def _record(name: str, level: int) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, "Task %r ran for 2s", ("t",), None)


def test_kafka_warnings_are_hidden_at_info_and_shown_as_debug_at_debug() -> None:
    warning = _record("kafka.net.selector", logging.WARNING)
    assert not LibraryWarningsToDebug(logging.INFO).filter(warning)
    shown = _record("kafka.net.selector", logging.WARNING)
    assert LibraryWarningsToDebug(logging.DEBUG).filter(shown)
    assert (shown.levelno, shown.levelname) == (logging.DEBUG, "DEBUG")


def test_other_records_pass_unchanged() -> None:
    for record in (_record("kafka.producer", logging.ERROR), _record("procledger.x", 30)):
        assert LibraryWarningsToDebug(logging.INFO).filter(record)
        assert record.levelname in {"ERROR", "WARNING"}
