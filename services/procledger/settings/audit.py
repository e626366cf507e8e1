"""AuditSettings: AUDIT_DATABASE_URL, AUDIT_READ_DATABASE_URL, AUDIT_HOST/PORT, verify interval."""

from __future__ import annotations

from dataclasses import dataclass, field

from procledger.settings import Env, KafkaSettings
from procledger.settings.tokens import TokenSettings

DEFAULT_AUDIT_DATABASE_URL = (
    "postgresql://procledger_auditor:procledger_auditor@127.0.0.1:55432/procledger"
)


@dataclass(frozen=True, slots=True)
class AuditSettings:
    """What the audit CLI and API read from the environment, once, at start."""

    database_url: str = field(default=DEFAULT_AUDIT_DATABASE_URL, repr=False)
    # Where every audit query reads: a streaming replica keeps auditors' heavy reads off the
    # primary the consumers write to; unset, the primary (database_url). Nothing the audit
    # CLI or service does writes to the database.
    read_url: str = field(default=DEFAULT_AUDIT_DATABASE_URL, repr=False)
    host: str = "127.0.0.1"
    port: int = 8082
    verify_interval_s: int = 300
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    tokens: TokenSettings = field(default_factory=TokenSettings)
    # PEM files: the Ed25519 key that signs bundle manifests, and the public key to check them.
    signing_key_file: str | None = None
    verify_key_file: str | None = None

    @property
    def read_variable(self) -> str:
        """The variable that named read_url, for messages."""
        same = self.read_url == self.database_url
        return "AUDIT_DATABASE_URL" if same else "AUDIT_READ_DATABASE_URL"

    @classmethod
    def from_env(cls, env: Env) -> AuditSettings:
        url = env.secrets({"AUDIT_DATABASE_URL": DEFAULT_AUDIT_DATABASE_URL})["AUDIT_DATABASE_URL"]
        return cls(
            database_url=url,
            read_url=env.optional("AUDIT_READ_DATABASE_URL") or url,
            host=env.text("AUDIT_HOST", "127.0.0.1"),
            port=env.integer("AUDIT_PORT", 8082, minimum=1, maximum=65535),
            verify_interval_s=env.integer("AUDIT_VERIFY_INTERVAL_S", 300, maximum=86_400 * 7),
            kafka=KafkaSettings.from_env(env),
            tokens=TokenSettings.from_env(env),
            signing_key_file=env.optional("AUDIT_SIGNING_KEY_FILE"),
            verify_key_file=env.optional("AUDIT_VERIFY_KEY_FILE"),
        )
