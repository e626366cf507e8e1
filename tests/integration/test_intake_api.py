"""The intake API on the real broker: auth, validation, limits, publishing, metrics, OpenAPI."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from concurrent.futures import Future

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from procledger.adapters.kafka.probe import BrokerProbe
from procledger.adapters.kafka.publisher import KafkaOrderPublisher, Published, PublishError
from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.codec.textformats import event_to_jsonl
from procledger.domain.events import Event
from procledger.entrypoints.http.intake import create_app
from procledger.scenario import story_events
from procledger.settings import KafkaSettings, Topics
from procledger.settings.publishing import IntakeSettings
from procledger.settings.tokens import TokenSettings
from tests.integration.publishing_support import TopicSet, unique_topics
from tests.integration.test_publish_cli import BAD_PLACED_VALUES
from tests.unit.event_samples import PAID, PLACED, TARGET

INTAKE = {"Authorization": "Bearer intake-secret"}
AUDITOR = {"Authorization": "Bearer auditor-secret"}
TOKENS = TokenSettings(intake=frozenset({"intake-secret"}), auditor=frozenset({"auditor-secret"}))


def body(event: Event) -> dict[str, object]:
    return json.loads(event_to_jsonl(event))  # type: ignore[no-any-return]


@pytest.fixture
def topics(bootstrap: str, unique: str) -> TopicSet:
    return unique_topics(bootstrap, unique)


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def client(topics: TopicSet, registry: CollectorRegistry) -> Iterator[TestClient]:
    settings = IntakeSettings(
        kafka=topics.kafka, topics=topics.topics, tokens=TOKENS, max_batch=50,
        max_body_bytes=64 * 1024,
    )  # fmt: skip
    publisher = KafkaOrderPublisher(topics.kafka, topics.topics, source_system="intake-test")
    try:
        with TestClient(
            create_app(
                settings, publisher, registry, PostgresStatusReader(settings.status_database_url)
            )
        ) as test_client:
            yield test_client
    finally:
        publisher.close()


def test_no_or_unknown_token_is_401(client: TestClient, topics: TopicSet) -> None:
    for headers in ({}, {"Authorization": "Bearer nope"}, {"Authorization": "Basic eDp5"}):
        response = client.post("/v1/events", json=body(PLACED), headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["www-authenticate"] == "Bearer"
        assert "token" in response.json()["detail"]
    assert topics.total() == 0


def test_auditor_token_is_403(client: TestClient, topics: TopicSet) -> None:
    response = client.post("/v1/events", json=body(PLACED), headers=AUDITOR)
    assert response.status_code == 403
    assert "role intake" in response.json()["detail"]
    assert topics.total() == 0


def test_one_event_is_published(client: TestClient, topics: TopicSet) -> None:
    response = client.post("/v1/events", json=body(PLACED), headers=INTAKE)
    assert response.status_code == 202, response.text
    [accepted] = response.json()["accepted"]
    assert accepted["event_id"] == PLACED.event_id
    assert accepted["event_type"] == "OrderPlaced"
    assert accepted["topic"] == topics.topics.orders
    [record] = topics.read_all()
    assert record.event == PLACED
    assert (record.partition, record.offset) == (accepted["partition"], accepted["offset"])
    assert record.headers["source_system"] == b"intake-test"


def test_a_batch_is_published_in_order(client: TestClient, topics: TopicSet) -> None:
    events = story_events()[:40]
    response = client.post("/v1/events", json={"events": [body(e) for e in events]}, headers=INTAKE)
    assert response.status_code == 202, response.text
    accepted = response.json()["accepted"]
    assert [a["event_id"] for a in accepted] == [e.event_id for e in events]
    assert {r.event for r in topics.read_all()} == set(events)


def test_the_same_event_twice_is_accepted_twice(client: TestClient, topics: TopicSet) -> None:
    for _ in range(2):
        response = client.post("/v1/events", json=body(TARGET), headers=INTAKE)
        assert response.status_code == 202, response.text
    records = topics.read_all()
    assert [r.event for r in records] == [TARGET, TARGET]
    assert records[0].topic == topics.topics.stockpile_targets


@pytest.mark.parametrize("field", sorted(BAD_PLACED_VALUES))
def test_each_invalid_field_is_a_422(field: str, client: TestClient, topics: TopicSet) -> None:
    document = body(PLACED)
    document[field] = BAD_PLACED_VALUES[field]
    response = client.post("/v1/events", json=document, headers=INTAKE)
    assert response.status_code == 422
    locs = [item["loc"] for item in response.json()["errors"]]
    assert ["body", field] in locs
    assert all(item["msg"] and item["type"] for item in response.json()["errors"])
    assert topics.total() == 0


@pytest.mark.parametrize(
    ("document", "loc", "kind"),
    [
        ([body(PLACED)], ["body"], "invalid_json"),
        ({"type": "OrderShipped", "event_id": "x"}, ["body", "type"], "unknown_type"),
        ({**body(PLACED), "colour": "red"}, ["body", "colour"], "unknown_field"),
        ({"event_id": PLACED.event_id}, ["body", "type"], "missing_field"),
        ({**body(PLACED), "quantity": "40000"}, ["body", "quantity"], "invalid_type"),
        ({**body(PLACED), "unit_price": 3000.5}, ["body", "unit_price"], "invalid_type"),
        ({"events": []}, ["body", "events"], "invalid_value"),
        ({"events": [body(PLACED)] * 51}, ["body", "events"], "too_many_events"),
    ],
)
def test_bad_bodies_are_422(
    document: object, loc: list[object], kind: str, client: TestClient, topics: TopicSet
) -> None:
    response = client.post("/v1/events", json=document, headers=INTAKE)
    assert response.status_code == 422, response.text
    assert {"loc": loc, "type": kind} in [
        {"loc": d["loc"], "type": d["type"]} for d in response.json()["errors"]
    ]
    assert topics.total() == 0


def test_malformed_json_and_content_type(client: TestClient, topics: TopicSet) -> None:
    headers = {**INTAKE, "Content-Type": "application/json"}
    response = client.post("/v1/events", content=b'{"type": ', headers=headers)
    assert response.status_code == 422
    assert response.json()["errors"][0]["type"] == "invalid_json"
    response = client.post("/v1/events", content=b"type=OrderPlaced", headers=INTAKE)
    assert response.status_code == 415
    assert "application/json" in response.json()["detail"]
    assert topics.total() == 0


def test_a_batch_with_one_bad_item_publishes_nothing(client: TestClient, topics: TopicSet) -> None:
    items = [body(e) for e in story_events()[:10]]
    items[6]["quantity"] = -5
    del items[8]["occurred_at"]
    response = client.post("/v1/events", json={"events": items}, headers=INTAKE)
    assert response.status_code == 422
    locs = [d["loc"] for d in response.json()["errors"]]
    assert ["body", "events", 6, "quantity"] in locs
    assert ["body", "events", 8, "occurred_at"] in locs
    assert topics.total() == 0


def test_an_oversized_body_is_413(client: TestClient, topics: TopicSet) -> None:
    document = {**body(PLACED), "item_description": "x" * (70 * 1024)}
    response = client.post("/v1/events", json=document, headers=INTAKE)
    assert response.status_code == 413
    assert "65536 bytes (INTAKE_MAX_BODY_BYTES)" in response.json()["detail"]

    def chunks() -> Iterator[bytes]:
        # No Content-Length: the limit must hold while the body streams in.
        yield b'{"type": "OrderPlaced", "item_description": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'"}'

    response = client.post(
        "/v1/events", content=chunks(), headers={**INTAKE, "Content-Type": "application/json"}
    )
    assert response.status_code == 413
    assert topics.total() == 0


def test_metrics_count_requests_and_events(client: TestClient) -> None:
    assert client.post("/v1/events", json=body(PAID), headers=INTAKE).status_code == 202
    bad = {**body(PLACED), "quantity": "x"}
    assert client.post("/v1/events", json=bad, headers=INTAKE).status_code == 422
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/no/such/route").status_code == 404
    text = client.get("/metrics").text
    assert 'procledger_publish_events_total{event_type="PaymentRecorded",path="intake"} 1.0' in text
    assert 'procledger_validation_failures_total{path="intake",reason="invalid_type"} 1.0' in text
    assert (
        'procledger_http_requests_total{method="POST",route="/v1/events",service="intake",'
        'status="202"} 1.0'
    ) in text
    assert 'route="/no/such/route"' not in text
    assert 'route="unmatched"' in text
    assert 'procledger_publish_latency_seconds_count{path="intake"} 1.0' in text


def test_openapi_declares_bearer_auth(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": spec["components"]["securitySchemes"]["bearer"]["description"],
    }
    post = spec["paths"]["/v1/events"]["post"]
    assert post["security"] == [{"bearer": []}]
    assert {"202", "401", "403", "413", "422", "503"} <= set(post["responses"])
    schemas = post["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert {s["title"] for s in schemas} >= {"OrderPlaced", "StockpileTargetSet", "Batch"}


class _DownPublisher:
    """A broker that refuses (`fail`) or never answers: only the 503 mapping is under test."""

    def __init__(self, fail: bool) -> None:
        self.fail = fail

    def submit(self, events: Iterable[Event]) -> list[Future[Published]]:
        futures: list[Future[Published]] = [Future() for _ in events]
        if self.fail:
            futures[0].set_exception(PublishError("broker did not confirm: KafkaTimeoutError"))
        return futures


@pytest.mark.parametrize("fail", [True, False], ids=["refused", "no-answer"])
def test_broker_failure_is_503(topics: TopicSet, registry: CollectorRegistry, fail: bool) -> None:
    settings = IntakeSettings(
        kafka=topics.kafka, topics=topics.topics, tokens=TOKENS, publish_timeout_s=1
    )
    reader = PostgresStatusReader(settings.status_database_url)
    with TestClient(create_app(settings, _DownPublisher(fail), registry, reader)) as down:
        response = down.post("/v1/events", json=body(PLACED), headers=INTAKE)
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    detail = response.json()["detail"]
    assert "send the same request again (re-sending is safe" in detail
    assert ("KafkaTimeoutError" if fail else "within 1 s (INTAKE_PUBLISH_TIMEOUT_S)") in detail
    labels = {"event_type": "OrderPlaced", "path": "intake"}
    assert registry.get_sample_value("procledger_publish_failures_total", labels) == 1.0


def test_missing_topic_is_named_at_once_and_not_ready(
    bootstrap: str, unique: str, registry: CollectorRegistry
) -> None:
    """Topics never created: /readyz and each POST name the topic at once (no 60 s wait)."""
    kafka = KafkaSettings(bootstrap_servers=bootstrap)
    topics = Topics(orders=f"t.{unique}.absent", stockpile_targets=f"t.{unique}.absent-targets")
    settings = IntakeSettings(kafka=kafka, topics=topics, tokens=TOKENS)
    probe = BrokerProbe(kafka, (topics.orders, topics.stockpile_targets), interval_s=0.5)
    publisher = KafkaOrderPublisher(kafka, topics, source_system="intake-test")
    try:
        assert probe.start().missing_topics == (topics.orders, topics.stockpile_targets)
        reader = PostgresStatusReader(settings.status_database_url)
        with TestClient(create_app(settings, publisher, registry, reader, probe)) as client:
            ready = client.get("/readyz")
            response = client.post("/v1/events", json=body(PLACED), headers=INTAKE)
            assert client.get("/healthz").status_code == 200  # liveness is not readiness
    finally:
        probe.close()
        publisher.close()
    assert ready.status_code == 503
    assert f"topic {topics.orders}, {topics.stockpile_targets} does not exist" in ready.text
    assert response.status_code == 503
    assert response.headers["retry-after"] == "5"
    assert f"topic {topics.orders} does not exist" in response.json()["detail"]
    assert "nothing was published" in response.json()["detail"]


def test_ready_when_the_broker_answers_and_topics_exist(
    topics: TopicSet, registry: CollectorRegistry
) -> None:
    settings = IntakeSettings(kafka=topics.kafka, topics=topics.topics, tokens=TOKENS)
    probe = BrokerProbe(topics.kafka, (topics.topics.orders, topics.topics.stockpile_targets))
    publisher = KafkaOrderPublisher(topics.kafka, topics.topics, source_system="intake-test")
    try:
        assert probe.start().problem is None
        reader = PostgresStatusReader(settings.status_database_url)
        with TestClient(create_app(settings, publisher, registry, reader, probe)) as client:
            assert client.get("/readyz").json() == {"status": "ready"}
            assert client.post("/v1/events", json=body(PLACED), headers=INTAKE).status_code == 202
    finally:
        probe.close()
        publisher.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_serve_intake_answers_over_http(topics: TopicSet) -> None:
    port = _free_port()
    env = {**topics.env, "INTAKE_TOKENS": "intake-secret", "AUDITOR_TOKENS": "auditor-secret"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "procledger", "serve", "intake", "--port", str(port)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        response = httpx.post(f"{url}/v1/events", json=body(PLACED), headers=INTAKE, timeout=60)
        assert response.status_code == 202, response.text
        assert [r.event for r in topics.read_all()] == [PLACED]
    finally:
        proc.terminate()
        assert proc.wait(timeout=30) == 0


def test_serve_intake_needs_tokens(topics: TopicSet) -> None:
    env = {k: v for k, v in topics.env.items() if k != "INTAKE_TOKENS"}
    result = subprocess.run(
        [sys.executable, "-m", "procledger", "serve", "intake"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "INTAKE_TOKENS is required" in result.stderr
