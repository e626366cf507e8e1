"""Frozen settings per service, read once from documented environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field


class SettingsError(ValueError):
    """A configuration value is missing or invalid; the message names the key."""


PROFILE_ENV = "PROCLEDGER_PROFILE"
LOCAL_PROFILE = "local"


class Env:
    """Typed access to environment variables that fails fast and names the key."""

    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        self._source = os.environ if source is None else source

    def text(self, key: str, default: str | None = None) -> str:
        value = self._source.get(key, default)
        if value is None or value == "":
            raise SettingsError(f"{key} is required but not set")
        return value

    def integer(self, key: str, default: int, minimum: int = 0, maximum: int | None = None) -> int:
        raw = self._source.get(key)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{key} must be an integer, got {raw!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            bound = f">= {minimum}" if maximum is None else f"between {minimum} and {maximum}"
            raise SettingsError(f"{key} must be {bound}, got {value}")
        return value

    def choice(self, key: str, default: str, choices: tuple[str, ...]) -> str:
        value = self._source.get(key) or default
        if value not in choices:
            raise SettingsError(f"{key} must be one of {', '.join(choices)}, got {value!r}")
        return value

    @property
    def local_profile(self) -> bool:
        """PROCLEDGER_PROFILE=local: a developer's machine, where development passwords apply."""
        return self._source.get(PROFILE_ENV) == LOCAL_PROFILE

    def secrets(self, local_defaults: Mapping[str, str]) -> dict[str, str]:
        """Credentials (URLs with passwords): each required unless the local profile is on.

        The built-in values are the local stack's development passwords, so a service started
        anywhere else without its own refuses to start, naming every missing variable.
        """
        values = {key: self._source.get(key, "") for key in local_defaults}
        missing = [key for key, value in values.items() if not value]
        if missing and not self.local_profile:
            raise SettingsError(
                f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} required: the "
                f"built-in development credentials apply only with {PROFILE_ENV}={LOCAL_PROFILE}"
            )
        return {key: value or local_defaults[key] for key, value in values.items()}

    def optional(self, key: str) -> str | None:
        return self._source.get(key) or None

    def tokens(self, key: str) -> frozenset[str]:
        """A comma-separated list of bearer tokens; empty entries are ignored."""
        return frozenset(t.strip() for t in self._source.get(key, "").split(",") if t.strip())


DEFAULT_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_DATABASE_URL = "postgresql://procledger_app:procledger_app@127.0.0.1:55432/procledger"
DEFAULT_ADMIN_DATABASE_URL = "postgresql://postgres:postgres@127.0.0.1:55432/procledger"


@dataclass(frozen=True, slots=True)
class KafkaSettings:
    """KAFKA_BOOTSTRAP_SERVERS, KAFKA_SECURITY_PROTOCOL, KAFKA_SASL_* (SCRAM credentials)."""

    bootstrap_servers: str = DEFAULT_BOOTSTRAP
    security_protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    sasl_username: str | None = None
    sasl_password: str | None = field(default=None, repr=False)
    ssl_cafile: str | None = None

    @classmethod
    def from_env(cls, env: Env) -> KafkaSettings:
        protocol = env.choice(
            "KAFKA_SECURITY_PROTOCOL",
            "PLAINTEXT",
            ("PLAINTEXT", "SASL_PLAINTEXT", "SSL", "SASL_SSL"),
        )
        sasl = protocol.startswith("SASL")
        return cls(
            bootstrap_servers=env.text("KAFKA_BOOTSTRAP_SERVERS", DEFAULT_BOOTSTRAP),
            security_protocol=protocol,
            sasl_mechanism=(
                env.choice(
                    "KAFKA_SASL_MECHANISM",
                    "SCRAM-SHA-512",
                    ("SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN"),
                )
                if sasl
                else None
            ),
            sasl_username=env.text("KAFKA_SASL_USERNAME") if sasl else None,
            sasl_password=env.text("KAFKA_SASL_PASSWORD") if sasl else None,
            ssl_cafile=env.optional("KAFKA_SSL_CAFILE"),
        )

    def client_config(self) -> dict[str, object]:
        """Keyword arguments shared by every kafka-python client."""
        config: dict[str, object] = {
            "bootstrap_servers": self.bootstrap_servers.split(","),
            "security_protocol": self.security_protocol,
        }
        if self.sasl_mechanism:
            config["sasl_mechanism"] = self.sasl_mechanism
            config["sasl_plain_username"] = self.sasl_username
            config["sasl_plain_password"] = self.sasl_password
        if self.ssl_cafile:
            config["ssl_cafile"] = self.ssl_cafile
        return config


@dataclass(frozen=True, slots=True)
class Topics:
    """TOPIC_ORDERS, TOPIC_STOCKPILE_TARGETS, TOPIC_DLQ, TOPIC_PARTITIONS, TOPIC_REPLICATION."""

    orders: str = "procurement.orders"
    stockpile_targets: str = "procurement.stockpile-targets"
    dlq: str = "procurement.orders.dlq"
    partitions: int = 6
    replication_factor: int = 1

    @classmethod
    def from_env(cls, env: Env) -> Topics:
        return cls(
            orders=env.text("TOPIC_ORDERS", "procurement.orders"),
            stockpile_targets=env.text("TOPIC_STOCKPILE_TARGETS", "procurement.stockpile-targets"),
            dlq=env.text("TOPIC_DLQ", "procurement.orders.dlq"),
            partitions=env.integer("TOPIC_PARTITIONS", 6, minimum=1, maximum=1000),
            replication_factor=env.integer("TOPIC_REPLICATION", 1, minimum=1, maximum=5),
        )

    def for_event_type(self, event_type: str) -> str:
        return self.stockpile_targets if event_type == "StockpileTargetSet" else self.orders


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    """DATABASE_URL (the application role) and DATABASE_ADMIN_URL (migrations, owner role)."""

    url: str = field(default=DEFAULT_DATABASE_URL, repr=False)
    admin_url: str = field(default=DEFAULT_ADMIN_DATABASE_URL, repr=False)

    @classmethod
    def from_env(cls, env: Env, *, admin: bool = False) -> DatabaseSettings:
        """The application role's URL; the owner's too when `admin` (migrations, tooling).

        Without `admin`, DATABASE_ADMIN_URL is not required: a consumer never needs it.
        """
        defaults = {"DATABASE_URL": DEFAULT_DATABASE_URL}
        if admin:
            defaults["DATABASE_ADMIN_URL"] = DEFAULT_ADMIN_DATABASE_URL
        urls = env.secrets(defaults)
        return cls(url=urls["DATABASE_URL"], admin_url=urls.get("DATABASE_ADMIN_URL", ""))
