"""The producer paths' metric names, types and labels, through a private registry."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from procledger.entrypoints.http.metrics import HttpMetrics, install_http_metrics
from procledger.publishing.metrics import REASONS, PublishMetrics, reason_label


def _types(registry: CollectorRegistry) -> dict[str, tuple[str, tuple[str, ...]]]:
    found = {}
    for family in registry.collect():
        labels: set[str] = set()
        for sample in family.samples:
            labels |= set(sample.labels) - {"le"}
        found[family.name] = (family.type, tuple(sorted(labels)))
    return found


def test_publish_metric_names_types_and_labels() -> None:
    registry = CollectorRegistry()
    metrics = PublishMetrics(registry)
    metrics.published.labels(event_type="OrderPlaced", path="cli").inc(3)
    metrics.failures.labels(event_type="OrderPlaced", path="intake").inc()
    metrics.latency.labels(path="cli").observe(0.2)
    metrics.refused("intake", "required field is missing")
    assert _types(registry) == {
        "procledger_publish_events": ("counter", ("event_type", "path")),
        "procledger_publish_failures": ("counter", ("event_type", "path")),
        "procledger_publish_latency_seconds": ("histogram", ("path",)),
        "procledger_validation_failures": ("counter", ("path", "reason")),
    }
    get = registry.get_sample_value
    assert get("procledger_publish_events_total", {"event_type": "OrderPlaced", "path": "cli"}) == 3
    assert get("procledger_publish_failures_total",
               {"event_type": "OrderPlaced", "path": "intake"}) == 1  # fmt: skip
    assert get("procledger_publish_latency_seconds_count", {"path": "cli"}) == 1
    assert get("procledger_publish_latency_seconds_bucket", {"path": "cli", "le": "0.25"}) == 1
    assert get("procledger_validation_failures_total",
               {"path": "intake", "reason": "missing_field"}) == 1  # fmt: skip


@pytest.mark.parametrize(
    ("reason", "label"),
    [
        ("required field is missing", "missing_field"),
        ("must not be null or empty", "missing_field"),
        ("unknown field", "unknown_field"),
        ("unknown column", "unknown_field"),
        ("unknown event type", "unknown_type"),
        ("invalid JSON: Expecting value: line 1 column 1 (char 0)", "invalid_json"),
        ("invalid CSV: unexpected end of data", "invalid_csv"),
        ("expected 17 columns, found 3", "invalid_csv"),
        ("not valid UTF-8", "invalid_encoding"),
        ("line is longer than 1048576 characters", "too_large"),
        ("too many events: at most 1000 per request, got 1001", "too_many_events"),
        ("must be an integer", "invalid_type"),
        ("decimal must be a string, not a float", "invalid_type"),
        ("must be an ISO 4217 currency code", "invalid_value"),
        ("anything new the validator may say one day", "invalid_value"),
    ],
)
def test_reasons_map_to_a_bounded_label(reason: str, label: str) -> None:
    assert reason_label(reason) == label
    assert label in REASONS


def test_http_metrics_use_the_route_template() -> None:
    registry = CollectorRegistry()
    app = FastAPI()

    @app.get("/orders/{order_id}")
    async def order(order_id: str) -> dict[str, str]:
        return {"order_id": order_id}

    install_http_metrics(app, HttpMetrics(registry), "audit")
    client = TestClient(app)
    for order_id in ("A-1", "B-2", "C-3"):
        assert client.get(f"/orders/{order_id}").status_code == 200
    assert client.get("/elsewhere").status_code == 404
    assert _types(registry) == {
        "procledger_http_requests": ("counter", ("method", "route", "service", "status")),
        "procledger_http_request_duration_seconds": ("histogram", ("method", "route", "service")),
    }
    get = registry.get_sample_value
    labels = {"service": "audit", "route": "/orders/{order_id}", "method": "GET"}
    assert get("procledger_http_requests_total", {**labels, "status": "200"}) == 3
    assert get("procledger_http_request_duration_seconds_count", labels) == 3
    unmatched = {"service": "audit", "route": "unmatched", "method": "GET", "status": "404"}
    assert get("procledger_http_requests_total", unmatched) == 1
