"""`procledger serve intake|audit`: the HTTP services (handlers imported only when run)."""

from __future__ import annotations

import argparse

from procledger.entrypoints.cli.support import Command

SERVE = Command(
    "serve",
    "run an HTTP service: the intake API or the audit API",
    "Run one of the HTTP services in the foreground until SIGTERM or Ctrl-C.",
)

INTAKE = Command(
    "intake",
    "the intake API: POST /v1/events publishes validated events to Kafka",
    'POST /v1/events takes one event object or {"events": [...]} (at most '
    "INTAKE_MAX_BATCH events, INTAKE_MAX_BODY_BYTES bytes), validates all of them, "
    "publishes them and answers 202 with each event's topic, partition and offset. "
    "Bearer tokens: INTAKE_TOKENS (required). GET /healthz, GET /metrics, "
    "GET /openapi.json. Exits 2 on bad configuration.",
    "procledger.entrypoints.intake_service:run",
)

AUDIT = Command(
    "audit",
    "the audit API: read-only queries over the ledger",
    "The read-only audit API (see `procledger.audit`). Exits 2 on bad configuration "
    "or a database without the audit views (run `procledger db migrate` first).",
    "procledger.entrypoints.audit_service:run",
)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    serve = SERVE.add_to(sub)
    services = serve.add_subparsers(dest="service", metavar="SERVICE", required=True)
    intake = INTAKE.add_to(services)
    intake.add_argument("--host", help="listen address (env INTAKE_HOST, default 127.0.0.1)")
    intake.add_argument("--port", type=int, help="listen port (env INTAKE_PORT, default 8081)")
    audit = AUDIT.add_to(services)
    audit.add_argument("--host", help="listen address (env AUDIT_HOST)")
    audit.add_argument("--port", type=int, help="listen port (env AUDIT_PORT)")
