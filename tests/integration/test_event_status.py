"""Status for the sender through the real pipeline: intake ?wait=, GET /v1/events/{id},
`procledger events status`, `publish --wait`, problem+json errors and WRONG_FRAMING."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from kafka import KafkaProducer
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.codec.avro import encode
from procledger.codec.textformats import event_to_jsonl
from procledger.entrypoints.http.intake import create_app
from procledger.settings.publishing import IntakeSettings
from procledger.settings.tokens import TokenSettings
from tests.plugins.ledger import LedgerEnv
from tests.unit.event_samples import DELIVERED, PLACED

INTAKE = {"Authorization": "Bearer status-intake"}
TOKENS = TokenSettings(intake=frozenset({"status-intake"}), auditor=frozenset({"status-audit"}))


def _new_id() -> str:
    return str(uuid.uuid4())


def _placed(order_id: str) -> dict[str, object]:
    event = dataclasses.replace(PLACED, event_id=_new_id(), order_id=order_id)
    return json.loads(event_to_jsonl(event))  # type: ignore[no-any-return]


def _orphan_delivery() -> dict[str, object]:
    """A delivery for an order that does not exist: the ledger rejects it (UNKNOWN_ORDER)."""
    event = dataclasses.replace(DELIVERED, event_id=_new_id(), order_id=f"NONE-{uuid.uuid4()}")
    return json.loads(event_to_jsonl(event))  # type: ignore[no-any-return]


@pytest.fixture
def running(ledger: LedgerEnv) -> LedgerEnv:
    ledger.start_consumer()
    return ledger


@pytest.fixture
def client(running: LedgerEnv) -> Iterator[TestClient]:
    settings = IntakeSettings(
        kafka=running.kafka, topics=running.topics, tokens=TOKENS, max_wait_s=90,
        status_database_url=running.env["AUDIT_DATABASE_URL"],
    )  # fmt: skip
    publisher = KafkaOrderPublisher(running.kafka, running.topics, source_system="status-test")
    reader = PostgresStatusReader(settings.status_database_url)
    try:
        with TestClient(create_app(settings, publisher, CollectorRegistry(), reader)) as test:
            yield test
    finally:
        publisher.close()


def test_intake_wait_and_status_report_applied_rejected_and_unknown(client: TestClient) -> None:
    good, bad = _placed(f"ST-{uuid.uuid4()}"), _orphan_delivery()
    response = client.post("/v1/events?wait=90", json={"events": [good, bad]}, headers=INTAKE)
    assert response.status_code == 202, response.text
    accepted, outcomes = response.json()["accepted"], response.json()["outcomes"]
    assert [o["status"] for o in outcomes] == ["applied", "rejected"]
    applied, rejected = outcomes
    coordinates = ("topic", "partition", "offset")
    assert {k: applied[k] for k in coordinates} == {k: accepted[0][k] for k in coordinates}
    assert applied["event_id"] == good["event_id"]
    assert rejected["reason"] == "UNKNOWN_ORDER"
    assert str(bad["order_id"]) in rejected["message"]

    for outcome in outcomes:
        got = client.get(f"/v1/events/{outcome['event_id']}", headers=INTAKE)
        assert got.status_code == 200
        assert got.json() == outcome
    never = _new_id()
    assert client.get(f"/v1/events/{never}", headers=INTAKE).json() == {
        "event_id": never, "status": "unknown", "event_type": None, "topic": None,
        "partition": None, "offset": None, "recorded_at": None, "reason": None, "message": None,
    }  # fmt: skip


def test_intake_errors_are_problem_details(client: TestClient) -> None:
    response = client.get(f"/v1/events/{_new_id()}")
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == 401 and problem["title"] == "Unauthorized"
    assert problem["type"] == "about:blank" and problem["instance"].startswith("/v1/events/")
    response = client.post("/v1/events", json={"type": "OrderShipped"}, headers=INTAKE)
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"] == "application/problem+json"
    assert problem["errors"][0]["loc"] == ["body", "type"]
    assert "OrderPlaced" in problem["errors"][0]["msg"]  # the valid types are listed
    response = client.post("/v1/events?wait=91", json=_placed("X"), headers=INTAKE)
    assert response.status_code == 422
    assert response.json()["errors"][0]["loc"] == ["query", "wait"]
    auditor = client.post("/v1/events", json=_placed("X"), headers={
        "Authorization": "Bearer status-audit"})  # fmt: skip
    assert auditor.json()["detail"] == (
        "this route needs role intake; an auditor token may not use it"
    )


def _cli(ledger: LedgerEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "procledger", *args], env=ledger.env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_publish_wait_and_events_status_cli(running: LedgerEnv, tmp_path: Path) -> None:
    good, bad = _placed(f"CLI-{uuid.uuid4()}"), _orphan_delivery()
    path = tmp_path / "events.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n", encoding="utf-8")
    result = _cli(running, "publish", str(path), "--wait", "90", "--output", "json")
    assert result.returncode == 4, result.stderr  # one event rejected
    summary, report = (json.loads(line) for line in result.stdout.splitlines())
    assert summary["published"] == 2
    assert report["ledger"] == {"applied": 1, "rejected": 1, "unknown": 0}
    assert [(r["event_id"], r["reason"]) for r in report["not_applied"]] == [
        (bad["event_id"], "UNKNOWN_ORDER")
    ]

    never = _new_id()
    ids = [str(good["event_id"]), str(bad["event_id"]), never]
    result = _cli(running, "events", "status", *ids, "--format", "csv")
    assert result.returncode == 4, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["event_id"], r["status"], r["reason"]) for r in rows] == [
        (ids[0], "applied", ""), (ids[1], "rejected", "UNKNOWN_ORDER"), (never, "unknown", ""),
    ]  # fmt: skip
    result = _cli(running, "events", "status", ids[0], "--format", "json")
    assert result.returncode == 0
    assert json.loads(result.stdout)[0]["status"] == "applied"
    result = _cli(running, "events", "status", never)
    assert result.returncode == 5
    assert "unknown" in result.stdout
    result = _cli(running, "events", "status", "not-an-id")
    assert result.returncode == 2
    assert "not-an-id" in result.stderr


def test_confluent_framed_value_is_rejected_as_wrong_framing(running: LedgerEnv) -> None:
    producer = KafkaProducer(acks="all", **running.kafka.client_config())
    body = encode(dataclasses.replace(PLACED, event_id=_new_id()))[10:]
    producer.send(running.topics.orders, b"\x00" + (42).to_bytes(4, "big") + body).get(30)
    producer.close()
    running.wait_applied(1)
    [(code, error)] = running.rows("SELECT reason_code, error FROM ledger.rejections")
    assert code == "WRONG_FRAMING"
    assert "Confluent Schema Registry framing (schema id 42)" in error
