"""`procledger serve audit`: settings from the environment, then uvicorn runs the audit API."""

from __future__ import annotations

import argparse
import logging
import sys

import uvicorn
from prometheus_client import CollectorRegistry

from procledger.adapters.postgres.migrations import (
    AUDIT_RELATIONS,
    LedgerSchemaMissing,
    SchemaCheckUnavailable,
    require_relations,
)
from procledger.entrypoints.cli.exits import guarded
from procledger.entrypoints.http.audit import create_app
from procledger.settings import Env, SettingsError
from procledger.settings.audit import AuditSettings

log = logging.getLogger("procledger.entrypoints.http.audit")


@guarded("procledger serve audit", {})
def run(args: argparse.Namespace) -> int:
    """Serve until SIGTERM or Ctrl-C; exit 2 on bad configuration."""
    settings = AuditSettings.from_env(Env())
    host = getattr(args, "host", None) or settings.host
    port = getattr(args, "port", None) or settings.port
    if not 0 < port < 65536:
        print(f"procledger serve audit: --port must be 1..65535, got {port}", file=sys.stderr)
        return 2
    try:
        require_relations(settings.read_url, AUDIT_RELATIONS, settings.read_variable)
    except LedgerSchemaMissing as err:
        print(f"procledger serve audit: {err}", file=sys.stderr)
        return 2
    except SchemaCheckUnavailable as err:
        # The API answers 503 while the database is away; it need not wait for it to start.
        log.warning("could not check the audit views at start: %s", err)
    if not settings.tokens.auditor:
        log.warning("AUDITOR_TOKENS is empty: every /v1 request will get 401")
    try:
        app = create_app(settings, CollectorRegistry())  # loads the signing key, if any
    except SettingsError as err:
        print(f"procledger serve audit: {err}", file=sys.stderr)
        return 2
    log.info("audit API on http://%s:%d (page at /, OpenAPI at /docs)", host, port)
    # log_config=None: uvicorn's own lines go through the root handler, so LOG_FORMAT=json
    # applies to them too.
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False, log_config=None)
    return 0
