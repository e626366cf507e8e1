"""Schemathesis against the intake API's own OpenAPI: no generated request may cause a 5xx."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from prometheus_client import CollectorRegistry
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.entrypoints.http.intake import create_app
from procledger.settings.publishing import IntakeSettings
from procledger.settings.tokens import TokenSettings
from tests.plugins.ledger import LedgerEnv

TOKEN = "schemathesis-intake-token"
OPERATIONS = (
    "POST /v1/events", "GET /v1/events/{event_id}", "GET /healthz", "GET /readyz", "GET /metrics",
)  # fmt: skip


@pytest.fixture
def intake_app(ledger: LedgerEnv) -> Iterator[FastAPI]:
    """The app on a real publisher, unique topics (generated valid events are published) and
    a real ledger database for the status routes (no consumer: events stay unknown)."""
    tokens = TokenSettings(intake=frozenset({TOKEN}), auditor=frozenset({"auditor"}))
    publisher = KafkaOrderPublisher(ledger.kafka, ledger.topics, source_system="schemathesis")
    try:
        settings = IntakeSettings(
            kafka=ledger.kafka, topics=ledger.topics, tokens=tokens, max_batch=20, max_wait_s=1,
            status_database_url=ledger.env["AUDIT_DATABASE_URL"],
        )  # fmt: skip
        yield create_app(
            settings, publisher, CollectorRegistry(),
            PostgresStatusReader(settings.status_database_url),
        )  # fmt: skip
    finally:
        publisher.close()


# schemathesis.pytest.from_fixture does not work with pytest 9 (it reads a private attribute
# pytest no longer has), so the schema is loaded inside the test and each operation is run
# as a plain Hypothesis test over the operation's strategy.
def test_no_server_errors(intake_app: FastAPI) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", intake_app)
    operations = []
    for result in schema.get_all_operations():
        # An Err here means the app's own OpenAPI document is broken.
        assert isinstance(result, Ok), result
        operations.append(result.ok())
    assert sorted(op.label for op in operations) == sorted(OPERATIONS)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        def check(case: Any) -> None:
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        check()
