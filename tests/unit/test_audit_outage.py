"""The audit service with its database unreachable: an error to report, never a discrepancy."""

from __future__ import annotations

import socket
import time

import pytest
from fastapi.testclient import TestClient
from prometheus_client import CollectorRegistry

from procledger.entrypoints.http.audit import create_app
from procledger.settings import Env
from procledger.settings.audit import AuditSettings

TOKEN = "audit-outage-test"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def closed_port() -> int:
    """A loopback port nothing listens on: connections are refused, as by a stopped server."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def client() -> TestClient:
    url = f"postgresql://procledger_auditor:x@127.0.0.1:{closed_port()}/procledger"
    env = Env({"AUDIT_DATABASE_URL": url, "AUDITOR_TOKENS": TOKEN, "AUDIT_VERIFY_INTERVAL_S": "0"})
    return TestClient(create_app(AuditSettings.from_env(env), CollectorRegistry()))


def sample(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not on the page")


def test_a_verification_that_cannot_run_is_an_error_not_a_discrepancy(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with client:
        answer = client.post("/v1/verify", headers=AUTH)
        assert answer.status_code == 503
        assert "cannot connect to the audit database" in answer.json()["detail"]
        page = client.get("/metrics").text
    assert sample(page, "procledger_audit_last_verification_error") == 1
    assert sample(page, "procledger_audit_verification_errors_total") == 1
    assert sample(page, "procledger_audit_verification_discrepancies") == 0
    assert "verification could not run" in caplog.text
    assert "discrepancies=" not in caplog.text


def test_metrics_report_the_database_down_without_waiting(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("INFO", logger="procledger.entrypoints.http.audit")
    with client:
        deadline = time.monotonic() + 30
        while "unreachable" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.1)
        page = client.get("/metrics").text
    assert sample(page, "procledger_audit_database_up") == 0
    outages = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(outages) == 1
    assert outages[0].getMessage().startswith("PostgreSQL (the audit database) unreachable: ")
