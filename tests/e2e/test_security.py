"""Access: SASL/SCRAM on Kafka, database roles, bearer tokens, injection, tampering."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from kafka import KafkaAdminClient
from kafka.errors import KafkaConfigurationError, KafkaError
from prometheus_client import CollectorRegistry

from procledger.adapters.postgres.audit_reader import JOURNAL_SELECT, journal_row
from procledger.adapters.postgres.status import PostgresStatusReader
from procledger.domain.chain import entry_hash
from procledger.entrypoints.http.audit import create_app as audit_app
from procledger.entrypoints.http.intake import create_app as intake_app
from procledger.scenario.story import story_events
from procledger.settings import Env
from procledger.settings.audit import AuditSettings
from procledger.settings.publishing import IntakeSettings
from procledger_dev.chaos.report import ScenarioFigures
from procledger_dev.chaos.stacks import ChaosStack
from tests.plugins.ledger import LedgerEnv

from .conftest import SASL_PASSWORD, SASL_USERNAME, ledger_env, scenario

pytestmark = pytest.mark.chaos

Record = Callable[[ScenarioFigures], None]
INJECTIONS = [
    "'; DROP TABLE ledger.journal; --",
    "DEU' OR '1'='1",
    'DEU"; DELETE FROM ledger.orders; --',
    "%' UNION SELECT event_id FROM ledger.journal --",
]


def _sasl_env(stack: ChaosStack, password: str = SASL_PASSWORD) -> dict[str, str]:
    return {
        "KAFKA_BOOTSTRAP_SERVERS": stack.sasl_bootstrap_servers,
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": SASL_USERNAME,
        "KAFKA_SASL_PASSWORD": password,
    }


def _topics_seen(bootstrap: str, **client_config: Any) -> list[str]:
    """The topics a Kafka admin client with this configuration is allowed to list."""
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=5000, bootstrap_timeout_ms=8000,
        **client_config,
    )  # fmt: skip
    try:
        return list(admin.list_topics())
    finally:
        admin.close()


def test_sasl_scram_clients_work_and_others_are_refused(
    chaos_stack: ChaosStack, record: Record
) -> None:
    started = time.monotonic()
    # Topics created over SASL too: the whole pipeline uses only the SCRAM listener.
    ledger = ledger_env(chaos_stack, chaos_stack.sasl_bootstrap_servers, **_sasl_env(chaos_stack))
    events = story_events()[:50]
    ledger.publish(events)
    ledger.consume()
    assert ledger.scalar("SELECT count(*) FROM ledger.journal") == len(events)

    def admin_with(**extra: Any) -> list[str]:
        return _topics_seen(chaos_stack.sasl_bootstrap_servers, **extra)

    scram = {"security_protocol": "SASL_PLAINTEXT", "sasl_mechanism": "SCRAM-SHA-512"}
    # The control: this very client code, with the right credentials, is let in.
    assert ledger.topics.orders in admin_with(
        **scram, sasl_plain_username=SASL_USERNAME, sasl_plain_password=SASL_PASSWORD
    )
    refused = 0
    for extra in (
        {"security_protocol": "PLAINTEXT"},  # no credentials at all
        {**scram, "sasl_plain_username": SASL_USERNAME, "sasl_plain_password": "wrong"},
        {**scram, "sasl_plain_username": "intruder", "sasl_plain_password": SASL_PASSWORD},
    ):
        # The broker drops the connection: the client never gets metadata, so never bootstraps.
        with pytest.raises(KafkaError, match="Unable to bootstrap") as refusal:
            admin_with(**extra)
        assert not isinstance(refusal.value, KafkaConfigurationError), refusal.value
        refused += 1
    record(scenario(
        "Kafka SASL/SCRAM: pipeline with credentials, others refused", events=len(events),
        consumers_started=1, bad_inputs={"Kafka client without valid SCRAM credentials": refused},
        seconds=time.monotonic() - started,
    ))  # fmt: skip


def test_tls_clients_verify_the_broker_and_others_are_refused(
    chaos_stack: ChaosStack, record: Record
) -> None:
    started = time.monotonic()
    tls = {
        **_sasl_env(chaos_stack),
        "KAFKA_BOOTSTRAP_SERVERS": chaos_stack.tls_bootstrap_servers,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SSL_CAFILE": chaos_stack.tls_cafile,
    }
    # The whole pipeline over the SASL_SSL listener only, verifying the broker's certificate.
    ledger = ledger_env(chaos_stack, chaos_stack.tls_bootstrap_servers, **tls)
    events = story_events()[:50]
    ledger.publish(events)
    ledger.consume()
    assert ledger.scalar("SELECT count(*) FROM ledger.journal") == len(events)

    def admin_with(**extra: Any) -> list[str]:
        return _topics_seen(chaos_stack.tls_bootstrap_servers, **extra)

    scram = {"sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": SASL_USERNAME,
             "sasl_plain_password": SASL_PASSWORD}  # fmt: skip
    trusted = {"security_protocol": "SASL_SSL", "ssl_cafile": chaos_stack.tls_cafile}
    # The control: this client code, trusting the stack's CA, is let in.
    assert ledger.topics.orders in admin_with(**trusted, **scram)
    refused = 0
    for extra in (
        # TLS without the stack's CA: the system's trust store does not know the broker.
        {**scram, "security_protocol": "SASL_SSL"},
        # Plain SCRAM against the TLS port: no handshake, no metadata.
        {**scram, "security_protocol": "SASL_PLAINTEXT"},
        # The right CA but a wrong password.
        {**trusted, **scram, "sasl_plain_password": "wrong"},
    ):
        with pytest.raises(KafkaError, match="Unable to bootstrap") as refusal:
            admin_with(**extra)
        assert not isinstance(refusal.value, KafkaConfigurationError), refusal.value
        refused += 1
    record(scenario(
        "Kafka SASL_SSL: pipeline over TLS, unverified or plain clients refused",
        events=len(events), consumers_started=1,
        bad_inputs={"Kafka client without the CA, TLS or valid credentials": refused},
        seconds=time.monotonic() - started,
    ))  # fmt: skip


@pytest.fixture(scope="module")
def story_ledger(chaos_stack: ChaosStack) -> Iterator[LedgerEnv]:
    ledger = ledger_env(chaos_stack)
    ledger.publish(story_events())
    ledger.consume()
    yield ledger


def test_auditor_role_cannot_write_anything(story_ledger: LedgerEnv) -> None:
    url = story_ledger.env["AUDIT_DATABASE_URL"]
    with psycopg.connect(url, autocommit=True) as conn:
        assert conn.execute("SELECT count(*) FROM audit.journal").fetchone()[0] > 0  # type: ignore[index]
        for statement in (
            "INSERT INTO ledger.journal (event_id) VALUES ('x')",
            "UPDATE ledger.orders SET value = 0",
            "DELETE FROM ledger.positions",
            "SELECT * FROM ledger.journal",
            "UPDATE audit.orders SET value = 0",
            "DELETE FROM audit.journal",
            "CREATE TABLE audit.mine (x int)",
            "CREATE TABLE ledger.mine (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def test_application_role_cannot_rewrite_or_reach_around(story_ledger: LedgerEnv) -> None:
    # (UPDATE/DELETE/TRUNCATE of the journal: tests/integration/test_ledger_pipeline.py.)
    with psycopg.connect(story_ledger.database.url, autocommit=True) as conn:
        for statement in (
            "UPDATE ledger.rejections SET reason_code = 'OK'",
            "DELETE FROM ledger.entries",
            "ALTER TABLE ledger.journal DISABLE TRIGGER journal_append_only",
            "DROP TABLE ledger.journal",
            "CREATE TABLE ledger.mine (x int)",
        ):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)


def _audit_cli(ledger: LedgerEnv, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "procledger", "audit", *args],
        env=ledger.env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


ZERO_TOTALS = {
    "ordered_quantity": 0, "ordered_value_usd": "0.00", "delivered_quantity": 0,
    "paid_usd": "0.00", "fx_difference_usd": "0.00", "orders": 0,
}  # fmt: skip


def test_injection_in_filters_is_data(story_ledger: LedgerEnv, record: Record) -> None:
    journal = story_ledger.scalar("SELECT count(*) FROM ledger.journal")
    tried = 0
    for attempt in INJECTIONS:
        for args in (
            ["orders", "--buyer", attempt, "--format", "json"],
            ["totals", "--buyer", attempt, "--format", "json"],
            ["rejections", "--reason", attempt, "--format", "json"],
            ["rejections", "--topic", attempt, "--format", "json"],
            ["order", attempt, "--format", "json"],
            ["trace", attempt, "--format", "json"],
        ):
            done = _audit_cli(story_ledger, *args)
            tried += 1
            # Either an empty answer or a refusal naming the bad value: never rows, never SQL.
            # (Totals over nothing answer one row of zeros: no order matched.)
            assert done.returncode in (0, 1, 2), done.stderr
            if done.returncode == 0:
                answer = json.loads(done.stdout)
                nothing = answer in ([], {}) or '"rows": []' in done.stdout
                zero_totals = args[0] == "totals" and answer == [ZERO_TOTALS]
                assert nothing or zero_totals, done.stdout
    client, token = _audit_client(story_ledger)
    for attempt in INJECTIONS:
        for path, params in (
            ("/v1/orders", {"buyer": attempt}),
            ("/v1/totals", {"buyer": attempt, "by": "buyer"}),
            ("/v1/rejections", {"reason": attempt, "topic": attempt}),
            ("/v1/stockpile", {"buyer": attempt}),
            (f"/v1/orders/{attempt}", {}),
            (f"/v1/trace/{attempt}", {}),
        ):
            reply = client.get(path, params=params, headers={"Authorization": f"Bearer {token}"})
            tried += 1
            assert reply.status_code in (200, 404, 422), reply.text
            if reply.status_code == 200:
                assert "DEU-" not in reply.text and "journal" not in reply.text.lower()
    assert story_ledger.scalar("SELECT count(*) FROM ledger.journal") == journal
    record(scenario("injection attempts in API and CLI filters",
                    bad_inputs={"SQL injection in a filter": tried}))  # fmt: skip


def _audit_client(ledger: LedgerEnv) -> tuple[TestClient, str]:
    env = {**ledger.env, "AUDITOR_TOKENS": "auditor-token", "INTAKE_TOKENS": "intake-token",
           "AUDIT_VERIFY_INTERVAL_S": "0"}  # fmt: skip
    app = audit_app(AuditSettings.from_env(Env(env)), CollectorRegistry())
    return TestClient(app), "auditor-token"


def test_tokens_are_checked_per_role(story_ledger: LedgerEnv, record: Record) -> None:
    env = {**story_ledger.env, "AUDITOR_TOKENS": "auditor-token", "INTAKE_TOKENS": "intake-token",
           "AUDIT_VERIFY_INTERVAL_S": "0"}  # fmt: skip
    audit = TestClient(audit_app(AuditSettings.from_env(Env(env)), CollectorRegistry()))

    class NoPublisher:
        def submit(self, events: Any) -> list[Any]:
            raise AssertionError("nothing may be published without the intake role")

    settings = IntakeSettings.from_env(Env(env))
    reader = PostgresStatusReader(settings.status_database_url)
    intake = TestClient(intake_app(settings, NoPublisher(), CollectorRegistry(), reader))
    bearer = {"intake": {"Authorization": "Bearer intake-token"},
              "auditor": {"Authorization": "Bearer auditor-token"},
              "wrong": {"Authorization": "Bearer nope"}, "none": {}}  # fmt: skip
    body = {"event_type": "OrderCancelled", "event_id": "x"}
    assert audit.get("/v1/totals", headers=bearer["auditor"]).status_code == 200
    assert audit.get("/v1/totals", headers=bearer["intake"]).status_code == 403
    assert audit.get("/v1/totals", headers=bearer["none"]).status_code == 401
    assert audit.get("/v1/totals", headers=bearer["wrong"]).status_code == 401
    assert intake.post("/v1/events", json=body, headers=bearer["auditor"]).status_code == 403
    assert intake.post("/v1/events", json=body, headers=bearer["none"]).status_code == 401
    assert intake.post("/v1/events", json=body, headers=bearer["wrong"]).status_code == 401
    # The event status route reads the ledger: the intake role only.
    assert intake.get("/v1/events/x", headers=bearer["auditor"]).status_code == 403
    assert intake.get("/v1/events/x", headers=bearer["none"]).status_code == 401
    record(scenario("bearer tokens per role (intake, auditor, none, unknown)",
                    bad_inputs={"request with a missing or wrong-role token": 8}))  # fmt: skip


def _verify(ledger: LedgerEnv) -> subprocess.CompletedProcess[str]:
    return _audit_cli(ledger, "verify")


def test_superuser_tampering_is_detected_and_named(chaos_stack: ChaosStack, record: Record) -> None:
    ledger = ledger_env(chaos_stack)
    ledger.publish(story_events()[:60])
    ledger.consume()
    assert _verify(ledger).returncode == 0, _verify(ledger).stdout
    admin = ledger.database.admin_url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("ALTER TABLE ledger.journal DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE ledger.entries DISABLE TRIGGER USER")
        rows = [journal_row(r) for r in conn.execute(JOURNAL_SELECT + " ORDER BY id").fetchall()]

    # Rows of one partition with a quantity to change (orders keyed by id share a partition).
    def successor_of(row: Any) -> Any:
        same = [r for r in rows if (r.topic, r.partition) == (row.topic, row.partition)]
        return next((r for r in same if r.offset > row.offset), None)

    def tamperable(row: Any) -> bool:
        # A quantity to change (an amendment may leave it null) and a successor to name.
        return row.payload.get("quantity") is not None and successor_of(row) is not None

    target = next(r for r in rows[5:] if tamperable(r))
    other = next(r for r in rows if r.id > target.id + 3 and tamperable(r))
    tampered = 0

    def tamper(sql: str, params: tuple[Any, ...], named: list[int]) -> None:
        nonlocal tampered
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(sql, params)
        done = _verify(ledger)
        tampered += 1
        assert done.returncode == 1, done.stdout + done.stderr
        assert any(f"journal row {i} " in done.stdout for i in named), done.stdout + done.stderr

    # An amount changed inside one row's payload.
    payload = dict(target.payload)
    payload["quantity"] = int(str(payload["quantity"])) + 1
    tamper("UPDATE ledger.journal SET payload = %s WHERE id = %s",
           (json.dumps(payload), target.id), [target.id])  # fmt: skip
    with psycopg.connect(admin, autocommit=True) as conn:  # put it back
        conn.execute("UPDATE ledger.journal SET payload = %s WHERE id = %s",
                     (json.dumps(target.payload), target.id))  # fmt: skip
    assert _verify(ledger).returncode == 0
    # Two rows' contents swapped (a reordering that keeps every row well-formed).
    tamper(
        "UPDATE ledger.journal SET payload = CASE id WHEN %s THEN %s::jsonb ELSE %s::jsonb END"
        " WHERE id IN (%s, %s)",
        (target.id, json.dumps(other.payload), json.dumps(target.payload), target.id, other.id),
        [target.id, other.id],
    )
    with psycopg.connect(admin, autocommit=True) as conn:
        for row in (target, other):
            conn.execute("UPDATE ledger.journal SET payload = %s WHERE id = %s",
                         (json.dumps(row.payload), row.id))  # fmt: skip
    assert _verify(ledger).returncode == 0
    # A forged row whose own hash is recomputed to match its new content: the next link breaks.
    fields = target.hashed_fields()
    fields["payload"] = payload
    forged = entry_hash(target.prev_hash, **fields)
    successor = successor_of(target)
    tamper("UPDATE ledger.journal SET payload = %s, hash = %s WHERE id = %s",
           (json.dumps(payload), forged, target.id), [target.id, successor.id])  # fmt: skip
    # A row deleted outright.
    with psycopg.connect(admin, autocommit=True) as conn:  # no entry left pointing at it
        conn.execute("DELETE FROM ledger.entries WHERE event_id = %s", (other.event_id,))
    tamper("DELETE FROM ledger.journal WHERE id = %s", (other.id,), [successor_of(other).id])
    record(
        scenario(
            "superuser tampering found by audit verify",
            bad_inputs={"tampered journal (amount, swap, forged hash, delete)": tampered},
        )
    )
