"""`procledger publish` against the real broker: all or nothing, every bad line reported."""

from __future__ import annotations

import json
import socket
import subprocess
from pathlib import Path

import pytest

from procledger.codec.jsonform import event_to_json_dict
from procledger.codec.textformats import MAX_LINE_LENGTH, event_to_jsonl
from procledger.domain.events import Event, event_type
from procledger.entrypoints.cli.main import main
from procledger.scenario import story_events, synthetic_placed
from tests.integration.publishing_support import TopicSet, orders_csv, unique_topics
from tests.plugins.ledger import run_procledger
from tests.unit.event_samples import PLACED, PLACED_MINIMAL

# One invalid value per OrderPlaced field; each must be reported under that field's name.
BAD_PLACED_VALUES: dict[str, object] = {
    "event_id": "not-a-uuid",
    "occurred_at": "2023-06-15T09:30:00",
    "order_id": 17,
    "buyer": "XXX",
    "supplier": 42,
    "item_description": "x" * 1001,
    "caliber_mm": "155mm",
    "quantity": 0,
    "unit_price": "-1",
    "currency": "EURO",
    "usd_rate": 1.08,
    "purpose": "WAR",
    "destination": "ZZZ",
    "supplier_country": "Germany",
    "contract_ref": 7,
    "nsn": "12",
    "expected_delivery": "soon",
}


@pytest.fixture
def topics(bootstrap: str, unique: str, monkeypatch: pytest.MonkeyPatch) -> TopicSet:
    """Unique topics; the in-process CLI reads them from the environment."""
    created = unique_topics(bootstrap, unique)
    for key, value in created.env.items():
        monkeypatch.setenv(key, value)
    return created


def _jsonl(path: Path, events: list[Event]) -> Path:
    path.write_text("".join(event_to_jsonl(e) + "\n" for e in events), encoding="utf-8")
    return path


def _cli(
    topics: TopicSet, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[str]:
    text = stdin.decode("utf-8", "surrogateescape") if stdin is not None else None
    return run_procledger(topics.env, *args, stdin=text)


def test_a_good_file_is_published_with_headers(topics: TopicSet, tmp_path: Path) -> None:
    events = story_events()
    path = _jsonl(tmp_path / "story.jsonl", events)
    result = _cli(topics, "publish", str(path), "--source-system", "erp-7", "--output", "json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["published"] == len(events)
    assert sum(summary["counts"].values()) == len(events)
    assert summary["events_per_second"] > 0
    records = topics.read_all()
    assert sorted(r.event.event_id for r in records) == sorted(e.event_id for e in events)
    by_id = {e.event_id: e for e in events}
    for record in records:
        assert record.event == by_id[record.event.event_id]
        assert record.headers["event_type"] == event_type(record.event).encode()
        assert record.headers["source_system"] == b"erp-7"
        expected = topics.topics.for_event_type(event_type(record.event))
        assert record.topic == expected


def test_one_bad_line_publishes_nothing(topics: TopicSet, tmp_path: Path) -> None:
    lines = [event_to_jsonl(e) for e in synthetic_placed(10, seed=3)]
    broken = json.loads(lines[4])
    broken["quantity"] = "many"
    lines[4] = json.dumps(broken)
    path = tmp_path / "orders.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = _cli(topics, "publish", str(path))
    assert result.returncode == 3
    assert "line 5: quantity: must be an integer" in result.stderr
    assert "nothing was published" in result.stderr
    assert topics.total() == 0


def test_every_bad_line_is_reported(
    topics: TopicSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good, other = event_to_jsonl(PLACED), event_to_jsonl(PLACED_MINIMAL)
    path = tmp_path / "mixed.jsonl"
    path.write_text(f"{good}\n{{not json\n\n{other}\n[1, 2]\n", encoding="utf-8")
    assert main(["publish", str(path)]) == 3
    err = capsys.readouterr().err
    assert "line 2: (line): invalid JSON" in err
    assert "line 5: (line): must be a JSON object" in err
    assert "2 invalid line(s)" in err
    assert topics.total() == 0


@pytest.mark.parametrize("field", sorted(BAD_PLACED_VALUES))
def test_each_invalid_field_is_named(
    field: str, topics: TopicSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    record = {"type": "OrderPlaced", **event_to_json_dict(PLACED)}
    record[field] = BAD_PLACED_VALUES[field]
    path = tmp_path / "one.jsonl"
    path.write_text(json.dumps(record) + "\n", encoding="utf-8")
    assert main(["publish", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"line 1: {field}: " in err
    assert topics.total() == 0


def test_csv_orders_are_published(topics: TopicSet, tmp_path: Path) -> None:
    events = [PLACED, PLACED_MINIMAL]
    path = orders_csv(tmp_path / "orders.csv", events)
    result = _cli(topics, "publish", str(path))
    assert result.returncode == 0, result.stderr
    assert "OrderPlaced" in result.stdout and "events/s" in result.stdout
    assert sorted((r.event for r in topics.read_all()), key=lambda e: e.event_id) == sorted(
        events, key=lambda e: e.event_id
    )


def test_stdin_is_published(topics: TopicSet) -> None:
    events = list(synthetic_placed(25, seed=9))
    data = "".join(event_to_jsonl(e) + "\n" for e in events).encode()
    result = _cli(topics, "publish", "-", stdin=data)
    assert result.returncode == 0, result.stderr
    assert {r.event.event_id for r in topics.read_all()} == {e.event_id for e in events}


def test_empty_inputs_are_refused(topics: TopicSet, tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n\n", encoding="utf-8")
    header_only = tmp_path / "header.csv"
    header_only.write_text(",".join(event_to_json_dict(PLACED)) + "\n", encoding="utf-8")
    result = _cli(topics, "publish", str(empty))
    assert (result.returncode, "the file is empty") == (3, result.stderr.split(": ", 2)[-1].strip())
    result = _cli(topics, "publish", str(blank))
    assert result.returncode == 3 and "contains no events" in result.stderr
    result = _cli(topics, "publish", str(header_only))
    assert result.returncode == 3 and "contains no events" in result.stderr
    result = _cli(topics, "publish", "-", stdin=b"")
    assert result.returncode == 3 and "standard input is empty" in result.stderr
    assert topics.total() == 0


def test_missing_file_and_bad_options(topics: TopicSet, tmp_path: Path) -> None:
    result = _cli(topics, "publish", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 3 and "nope.jsonl: no such file" in result.stderr
    result = _cli(topics, "publish", str(tmp_path))
    assert result.returncode == 3 and "is a directory" in result.stderr
    good = _jsonl(tmp_path / "good.jsonl", [PLACED])
    result = _cli(topics, "publish", str(good), "--source-system", "bad name!")
    assert result.returncode == 2 and "--source-system must be" in result.stderr
    result = _cli(topics, "publish", str(good), "--format", "xml")
    assert result.returncode == 2 and "--format" in result.stderr
    assert topics.total() == 0


def test_malformed_json_and_bad_encoding(
    topics: TopicSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "broken.jsonl"
    path.write_bytes(
        event_to_jsonl(PLACED).encode() + b"\n"
        + b'{"type": "OrderPlaced", "event_id": NaN}\n'
        + b'{"type": "OrderPlaced", "buyer": "\xff\xfe"}\n'
    )  # fmt: skip
    assert main(["publish", str(path)]) == 3
    err = capsys.readouterr().err
    assert "line 2: (line): invalid JSON: NaN is not valid JSON" in err
    # The byte, its column and its offset in the file (lines 1 and 2 come before it).
    before = event_to_jsonl(PLACED).encode() + b'\n{"type": "OrderPlaced", "event_id": NaN}\n'
    offset = len(before) + len('{"type": "OrderPlaced", "buyer": "')
    assert f"line 3: (line): not valid UTF-8: byte 0xFF at column 35 (file offset {offset})" in err
    assert topics.total() == 0


def test_csv_bad_byte_names_its_column_and_duplicates_are_caught(
    topics: TopicSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = [event_to_json_dict(e) for e in synthetic_placed(3, seed=16)]
    header = list(rows[0])
    path = tmp_path / "latin1.csv"
    lines = [",".join(header)] + [",".join("" if v is None else str(v) for v in r.values())
                                  for r in rows]  # fmt: skip
    lines[2] = lines[2].replace(str(rows[1]["supplier"]), "Nexter Munitions Soci\u00e9t\u00e9")
    # Latin-1 on line 3 only, UTF-8 elsewhere: what a spreadsheet export can produce.
    data = [line.encode("latin-1" if n == 2 else "utf-8") for n, line in enumerate(lines)]
    path.write_bytes(b"\n".join(data) + b"\n")
    assert main(["publish", str(path), "--dry-run"]) == 3
    err = capsys.readouterr().err
    assert "line 3: supplier: not valid UTF-8: byte 0xE9 at column" in err

    events = list(synthetic_placed(3, seed=17))
    doubled = _jsonl(tmp_path / "doubled.jsonl", [*events, events[1]])
    assert main(["publish", str(doubled), "--dry-run"]) == 3
    err = capsys.readouterr().err
    assert "line 4: event_id: duplicate event_id: line 2 has it too" in err
    assert topics.total() == 0


def test_an_oversized_line_is_refused(
    topics: TopicSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    huge = json.dumps({"type": "OrderPlaced", "item_description": "x" * MAX_LINE_LENGTH})
    path = tmp_path / "huge.jsonl"
    path.write_text(f"{event_to_jsonl(PLACED)}\n{huge}\n{event_to_jsonl(PLACED_MINIMAL)}\n")
    assert main(["publish", str(path)]) == 3
    err = capsys.readouterr().err
    assert f"line 2: (line): line is longer than {MAX_LINE_LENGTH} characters" in err
    assert "line 3" not in err
    assert topics.total() == 0


def test_dry_run_validates_only(
    topics: TopicSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _jsonl(tmp_path / "story.jsonl", story_events())
    assert main(["publish", str(path), "--dry-run", "--output", "json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["valid"] == len(story_events())
    assert topics.total() == 0


def test_a_busy_metrics_port_is_a_usage_error(
    topics: TopicSet, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _jsonl(tmp_path / "one.jsonl", [PLACED])
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["publish", str(path), "--metrics-port", str(port)]) == 2
    assert f"cannot serve metrics on 127.0.0.1:{port}" in capsys.readouterr().err
    assert topics.total() == 0


def test_scenario_writes_and_publishes(topics: TopicSet, tmp_path: Path) -> None:
    out = tmp_path / "synthetic.jsonl"
    result = _cli(topics, "scenario", "--events", "300", "--seed", "5", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == 300
    result = _cli(topics, "publish", str(out), "--dry-run")
    assert result.returncode == 0, result.stderr
    result = _cli(topics, "scenario", "--publish", "--output", "json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["published"] == len(story_events())
    assert topics.total() == len(story_events())
    result = _cli(topics, "scenario", "--orders", "5")
    assert result.returncode == 2 and "--orders needs --events" in result.stderr
