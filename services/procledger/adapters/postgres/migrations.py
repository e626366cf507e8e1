"""Database setup: the database, its roles, and versioned migrations applied by yoyo."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql
from yoyo import get_backend, read_migrations

from procledger.adapters.postgres.standby import refuse_standby
from procledger.resources import MIGRATIONS_DIR_ENV, migrations_dir
from procledger.settings import DatabaseSettings

APP_ROLE = "procledger_app"
AUDITOR_ROLE = "procledger_auditor"

log = logging.getLogger(__name__)


class MigrationsNotFound(Exception):
    """No migration files where the package (or PROCLEDGER_MIGRATIONS_DIR) says they are."""


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


class MigrationUnavailable(Exception):
    """PostgreSQL could not be reached (or dropped the connection) while migrating."""


def migrate(settings: DatabaseSettings, auditor_url: str | None = None) -> MigrationReport:
    """Create the database and roles where missing, then apply pending migrations in order.

    Raises MigrationsNotFound, before touching the server, when there is nothing to apply,
    and MigrationUnavailable when the server cannot be reached.
    """
    try:
        return _migrate(settings, auditor_url)
    except psycopg.OperationalError as err:
        raise MigrationUnavailable(f"cannot reach PostgreSQL: {err}") from err


def _migrate(settings: DatabaseSettings, auditor_url: str | None) -> MigrationReport:
    folder = migrations_dir()
    migrations = read_migrations(str(folder)) if folder.is_dir() else []
    if len(migrations) == 0:
        # An empty set would "apply nothing" and report success on a database with no tables.
        raise MigrationsNotFound(
            f"no migrations found in {folder} (the package procledger.schemas, or "
            f"{MIGRATIONS_DIR_ENV} if set): the installation is incomplete"
        )
    _, _, database = _credentials(settings.admin_url)
    app_user, app_password, _ = _credentials(settings.url)
    if app_user != APP_ROLE:
        raise ValueError(f"DATABASE_URL must connect as {APP_ROLE}, not {app_user!r}")
    created = False
    with psycopg.connect(_with_database(settings.admin_url, "postgres"), autocommit=True) as conn:
        refuse_standby(conn, "DATABASE_ADMIN_URL", "`procledger db migrate`")
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
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    applied = tuple(m.id for m in pending)
    for migration_id in applied:
        log.info("applied migration %s to %s", migration_id, database)
    return MigrationReport(database=database, created_database=created, applied=applied)


# What the migrations create and each service needs; checked at start so a database that was
# never migrated stops a service with one clear message instead of failing on first use.
LEDGER_RELATIONS = (
    "ledger.journal",
    "ledger.entries",
    "ledger.rejections",
    "ledger.positions",
    "ledger.orders",
    "ledger.stockpile_targets",
    "ledger.dlq_forwarded",
    "ledger.checkpoints",
)
AUDIT_RELATIONS = (
    "audit.journal",
    "audit.postings",
    "audit.rejections",
    "audit.positions",
    "audit.orders",
    "audit.stockpile",
    "audit.checkpoints",
)


class LedgerSchemaMissing(Exception):
    """The database has none or only some of the relations the migrations create."""


class SchemaCheckUnavailable(Exception):
    """The database could not be reached to check its relations."""


def require_relations(
    url: str, relations: tuple[str, ...], variable: str, writer: str | None = None
) -> None:
    """Raise LedgerSchemaMissing naming what the database at `url` (env `variable`) lacks;
    for a `writer`, StandbyNotWritable when `url` is a read-only standby."""
    try:
        with psycopg.connect(url, connect_timeout=10) as conn:
            if writer is not None:
                refuse_standby(conn, variable, writer)
            rows = conn.execute(
                "SELECT r FROM unnest(%s::text[]) AS r WHERE to_regclass(r) IS NULL",
                (list(relations),),
            ).fetchall()
    except psycopg.OperationalError as err:
        raise SchemaCheckUnavailable(f"cannot reach the database of {variable}: {err}") from err
    missing = [str(row[0]) for row in rows]
    if missing:
        _, _, database = _credentials(url)
        raise LedgerSchemaMissing(
            f"database {database!r} ({variable}) lacks {', '.join(missing)}: it was never "
            "migrated; run `procledger db migrate` (DATABASE_ADMIN_URL) first"
        )
