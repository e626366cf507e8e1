"""Database setup: the database, its roles, and versioned migrations applied by yoyo."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from procledger.settings import DatabaseSettings

MIGRATIONS = Path(__file__).resolve().parents[3] / "schemas" / "sql" / "migrations"
APP_ROLE = "procledger_app"
AUDITOR_ROLE = "procledger_auditor"

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class MigrationReport:
    database: str
    created_database: bool
    applied: tuple[str, ...]


def _credentials(url: str) -> tuple[str, str, str]:
    """(user, password, database) of a postgresql:// URL."""
    parts = urlsplit(url)
    return parts.username or "", parts.password or "", parts.path.lstrip("/")


def _with_database(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _ensure_role(conn: psycopg.Connection[tuple[object, ...]], role: str, password: str) -> None:
    exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
    verb = "ALTER" if exists else "CREATE"
    conn.execute(
        sql.SQL("{} ROLE {} LOGIN PASSWORD {}").format(
            sql.SQL(verb), sql.Identifier(role), sql.Literal(password)
        )
    )


def migrate(settings: DatabaseSettings, auditor_url: str | None = None) -> MigrationReport:
    """Create the database and roles where missing, then apply pending migrations in order."""
    _, _, database = _credentials(settings.admin_url)
    app_user, app_password, _ = _credentials(settings.url)
    if app_user != APP_ROLE:
        raise ValueError(f"DATABASE_URL must connect as {APP_ROLE}, not {app_user!r}")
    created = False
    with psycopg.connect(_with_database(settings.admin_url, "postgres"), autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,))
        if found.fetchone() is None:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database)))
            created = True
        _ensure_role(conn, APP_ROLE, app_password)
        if auditor_url is not None:
            _, auditor_password, _ = _credentials(auditor_url)
            _ensure_role(conn, AUDITOR_ROLE, auditor_password)
        else:
            _ensure_role(conn, AUDITOR_ROLE, AUDITOR_ROLE)
    backend = get_backend(settings.admin_url.replace("postgresql://", "postgresql+psycopg://", 1))
    migrations = read_migrations(str(MIGRATIONS))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = tuple(m.id for m in pending)
    for migration_id in applied:
        log.info("applied migration %s to %s", migration_id, database)
    return MigrationReport(database=database, created_database=created, applied=applied)
