"""Where the local stack lives and listens: one frozen value built from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]


class StackError(Exception):
    """The stack could not be brought up, down or inspected; the message says what to do."""


def _port(env: dict[str, str], key: str, default: int) -> int:
    raw = env.get(key, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise StackError(f"{key} must be a TCP port number, got {raw!r}") from None
    if not 1 <= value <= 65535:
        raise StackError(f"{key} must be between 1 and 65535, got {value}")
    return value


@dataclass(frozen=True, slots=True)
class StackConfig:
    """Ports and folders of one local stack; a second stack only needs other values."""

    root: Path
    kafka_port: int
    kafka_brokers: int
    pg_port: int
    prometheus_port: int
    cache_dir: Path
    pg_superuser_password: str

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        """Read STACK_DIR, STACK_KAFKA_PORT, STACK_KAFKA_BROKERS, STACK_PG_PORT, ..."""
        env = dict(os.environ) if env is None else env
        brokers = env.get("STACK_KAFKA_BROKERS", "1")
        if brokers not in {"1", "3"}:
            raise StackError(f"STACK_KAFKA_BROKERS must be 1 or 3, got {brokers!r}")
        return cls(
            root=Path(env.get("STACK_DIR", str(REPO_ROOT / "var" / "stack"))).resolve(),
            kafka_port=_port(env, "STACK_KAFKA_PORT", 9092),
            kafka_brokers=int(brokers),
            pg_port=_port(env, "STACK_PG_PORT", 55432),
            prometheus_port=_port(env, "STACK_PROMETHEUS_PORT", 9090),
            cache_dir=Path(env.get("STACK_CACHE_DIR", str(REPO_ROOT / "var" / "cache"))).resolve(),
            pg_superuser_password=env.get("STACK_PG_PASSWORD", "postgres"),
        )

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def kafka_broker_ports(self) -> list[int]:
        """Client ports: 9092 for one broker; 9092, 9094, 9096 for three (controllers +1)."""
        return [self.kafka_port + 2 * i for i in range(self.kafka_brokers)]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.kafka_broker_ports())

    @property
    def database_url(self) -> str:
        return (
            f"postgresql://postgres:{self.pg_superuser_password}@127.0.0.1:{self.pg_port}/postgres"
        )
