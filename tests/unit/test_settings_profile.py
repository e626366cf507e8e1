"""Development passwords apply only under PROCLEDGER_PROFILE=local; elsewhere URLs are required."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version

import pytest

from procledger.settings import (
    DEFAULT_ADMIN_DATABASE_URL,
    DEFAULT_DATABASE_URL,
    DatabaseSettings,
    Env,
    SettingsError,
)
from procledger.settings.audit import AuditSettings

URL = "postgresql://procledger_app:s3cret@db.internal:5432/procledger"
ADMIN = "postgresql://owner:0ther@db.internal:5432/procledger"


def test_without_the_local_profile_a_missing_url_is_refused_by_name() -> None:
    with pytest.raises(
        SettingsError, match=r"^DATABASE_URL is required: .*PROCLEDGER_PROFILE=local"
    ):
        DatabaseSettings.from_env(Env({}))
    with pytest.raises(SettingsError, match=r"^AUDIT_DATABASE_URL is required"):
        AuditSettings.from_env(Env({"PROCLEDGER_PROFILE": "production"}))


def test_every_missing_url_is_named_at_once() -> None:
    with pytest.raises(SettingsError, match=r"^DATABASE_URL, DATABASE_ADMIN_URL are required"):
        DatabaseSettings.from_env(Env({}), admin=True)


def test_explicit_urls_need_no_profile_and_the_consumer_no_admin_url() -> None:
    db = DatabaseSettings.from_env(Env({"DATABASE_URL": URL}))
    assert db.url == URL
    assert db.admin_url == ""
    both = DatabaseSettings.from_env(
        Env({"DATABASE_URL": URL, "DATABASE_ADMIN_URL": ADMIN}), admin=True
    )
    assert (both.url, both.admin_url) == (URL, ADMIN)


def test_the_local_profile_uses_the_development_defaults_and_explicit_values_win() -> None:
    local = Env({"PROCLEDGER_PROFILE": "local"})
    db = DatabaseSettings.from_env(local, admin=True)
    assert (db.url, db.admin_url) == (DEFAULT_DATABASE_URL, DEFAULT_ADMIN_DATABASE_URL)
    assert "procledger_auditor:procledger_auditor@" in AuditSettings.from_env(local).database_url
    explicit = DatabaseSettings.from_env(Env({"PROCLEDGER_PROFILE": "local", "DATABASE_URL": URL}))
    assert explicit.url == URL


def test_a_service_started_outside_the_profile_exits_2_naming_the_variables() -> None:
    env = {"PATH": "/usr/bin:/bin"}  # no PROCLEDGER_PROFILE, no URLs
    result = subprocess.run(
        [sys.executable, "-m", "procledger", "db", "migrate"],
        env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "DATABASE_URL, DATABASE_ADMIN_URL, AUDIT_DATABASE_URL are required" in result.stderr


def test_version_prints_the_installed_version() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "procledger", "--version"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert result.stdout.strip() == f"procledger {version('procledger')}"
