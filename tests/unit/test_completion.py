"""The completion tables hold every subcommand and option (the shells run them in integration)."""

from __future__ import annotations

from procledger.entrypoints.cli.completion import completion_tables
from procledger.entrypoints.cli.main import build_parser


def test_every_subcommand_and_option_is_in_the_tables() -> None:
    words, choices = completion_tables(build_parser())
    assert {"publish", "events", "audit", "serve", "completion"} <= set(words["procledger"])
    assert "--wait" in words["procledger publish"]
    assert "status" in words["procledger events"]
    assert choices["procledger events status|--format"] == ["table", "json", "csv"]
