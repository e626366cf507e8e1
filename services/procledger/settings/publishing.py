"""Settings of the producer paths: publish CLI, scenario and intake API (env vars, once)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from procledger.settings import Env, KafkaSettings, SettingsError, Topics
from procledger.settings.audit import DEFAULT_AUDIT_DATABASE_URL
from procledger.settings.tokens import TokenSettings

MAX_WORKERS = 32  # publish --workers: more than enough for any machine's cores
# A file is published for throughput, not for each record's latency: a longer linger fills
# each partition's batch fuller, so every producer sends fewer, larger requests (measured at
# 300,000 events: the broker's CPU halved, and two workers 12.4-12.7k events/s against
# 8.6-11.2k at the intake's 10 ms).
DEFAULT_PUBLISH_LINGER_MS = 50
# A source_system header value: short, printable ASCII, so every consumer can log it as is.
_SOURCE_SYSTEM = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/@-]{0,63}")


def status_database_url(env: Env) -> str:
    """STATUS_DATABASE_URL: a read-only role that can read audit.journal and audit.rejections;
    by default the auditor role of AUDIT_DATABASE_URL."""
    return env.text(
        "STATUS_DATABASE_URL", env.text("AUDIT_DATABASE_URL", DEFAULT_AUDIT_DATABASE_URL)
    )


def check_source_system(value: str, key: str) -> str:
    """The value, or SettingsError naming `key` (an env var or a CLI option)."""
    if not _SOURCE_SYSTEM.fullmatch(value):
        raise SettingsError(
            f"{key} must be 1-64 characters of letters, digits and ._:/@- "
            f"(starting with a letter or digit), got {value!r}"
        )
    return value


@dataclass(frozen=True, slots=True)
class PublishSettings:
    """PUBLISH_SOURCE_SYSTEM, PUBLISH_METRICS_PORT, PUBLISH_WORKERS, PUBLISH_LINGER_MS,
    STATUS_DATABASE_URL, Kafka and topics."""

    kafka: KafkaSettings
    topics: Topics
    source_system: str
    metrics_port: int
    workers: int = 1
    linger_ms: int = DEFAULT_PUBLISH_LINGER_MS
    status_database_url: str = field(default=DEFAULT_AUDIT_DATABASE_URL, repr=False)

    @classmethod
    def from_env(cls, env: Env) -> PublishSettings:
        return cls(
            status_database_url=status_database_url(env),
            kafka=KafkaSettings.from_env(env),
            topics=Topics.from_env(env),
            source_system=check_source_system(
                env.text("PUBLISH_SOURCE_SYSTEM", "procledger-cli"), "PUBLISH_SOURCE_SYSTEM"
            ),
            metrics_port=env.integer("PUBLISH_METRICS_PORT", 0, maximum=65535),
            workers=env.integer("PUBLISH_WORKERS", 1, minimum=1, maximum=MAX_WORKERS),
            linger_ms=env.integer(
                "PUBLISH_LINGER_MS", DEFAULT_PUBLISH_LINGER_MS, minimum=0, maximum=1000
            ),
        )


@dataclass(frozen=True, slots=True)
class IntakeSettings:
    """INTAKE_HOST, INTAKE_PORT, INTAKE_MAX_BATCH, INTAKE_MAX_BODY_BYTES, INTAKE_SOURCE_SYSTEM,
    INTAKE_PUBLISH_TIMEOUT_S, INTAKE_TOKENS / AUDITOR_TOKENS, STATUS_DATABASE_URL,
    INTAKE_MAX_WAIT_S, Kafka and topics."""

    kafka: KafkaSettings
    topics: Topics
    tokens: TokenSettings
    host: str = "127.0.0.1"
    port: int = 8081
    max_batch: int = 1000
    max_body_bytes: int = 1 << 20
    source_system: str = "intake-api"
    status_database_url: str = field(default=DEFAULT_AUDIT_DATABASE_URL, repr=False)
    max_wait_s: int = 30
    publish_timeout_s: int = 15

    @classmethod
    def from_env(cls, env: Env) -> IntakeSettings:
        tokens = TokenSettings.from_env(env)
        if not tokens.intake:
            raise SettingsError("INTAKE_TOKENS is required: at least one bearer token")
        return cls(
            kafka=KafkaSettings.from_env(env),
            topics=Topics.from_env(env),
            tokens=tokens,
            host=env.text("INTAKE_HOST", "127.0.0.1"),
            port=env.integer("INTAKE_PORT", 8081, minimum=1, maximum=65535),
            max_batch=env.integer("INTAKE_MAX_BATCH", 1000, minimum=1, maximum=100_000),
            max_body_bytes=env.integer(
                "INTAKE_MAX_BODY_BYTES", 1 << 20, minimum=1024, maximum=1 << 30
            ),
            source_system=check_source_system(
                env.text("INTAKE_SOURCE_SYSTEM", "intake-api"), "INTAKE_SOURCE_SYSTEM"
            ),
            status_database_url=status_database_url(env),
            max_wait_s=env.integer("INTAKE_MAX_WAIT_S", 30, minimum=0, maximum=600),
            publish_timeout_s=env.integer("INTAKE_PUBLISH_TIMEOUT_S", 15, minimum=1, maximum=300),
        )
