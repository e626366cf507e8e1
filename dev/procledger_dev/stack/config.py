"""Where the local stack lives and listens: one frozen value built from the environment."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
KAFKA_EXPORTER_OFFSET = 312  # 9092 -> 9404
PG_EXPORTER_OFFSET = 97  # 9090 -> 9187
PG_REPLICA_OFFSET = 1  # 55432 -> 55433


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


def _service_port(env: dict[str, str], key: str, default: int) -> int:
    """A service's port as the stack expects it; 0 (the service's "off", the default of
    PUBLISH_METRICS_PORT) still leaves the documented port to scrape."""
    return default if env.get(key, "0") in {"", "0"} else _port(env, key, default)


@dataclass(frozen=True, slots=True)
class ServicePorts:
    """Where the services this stack's Prometheus scrapes listen: the services' own variables
    (CONSUMER_METRICS_PORT, INTAKE_PORT, AUDIT_PORT, PUBLISH_METRICS_PORT) with their defaults,
    so one set of exports configures both the services and the stack that watches them."""

    consumer: int = 9410
    intake: int = 8081
    audit: int = 8082
    publish: int = 9420
    # Up to this many consumer group members, on consecutive ports from `consumer`.
    consumer_members: int = 3

    @classmethod
    def from_env(cls, env: dict[str, str]) -> ServicePorts:
        return cls(
            consumer=_service_port(env, "CONSUMER_METRICS_PORT", 9410),
            intake=_service_port(env, "INTAKE_PORT", 8081),
            audit=_service_port(env, "AUDIT_PORT", 8082),
            publish=_service_port(env, "PUBLISH_METRICS_PORT", 9420),
        )

    def consumer_ports(self) -> list[int]:
        return [self.consumer + i for i in range(self.consumer_members)]


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
    kafka_exporter_port: int
    pg_exporter_port: int
    services: ServicePorts = field(default_factory=ServicePorts)
    # The streaming replica (stack.replica) is opt-in: STACK_PG_REPLICA=1 adds it to `up`.
    pg_replica: bool = False
    pg_replica_port: int = 55433

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> StackConfig:
        """Read STACK_DIR, STACK_KAFKA_PORT, STACK_KAFKA_BROKERS, STACK_PG_PORT, ..."""
        env = dict(os.environ) if env is None else env
        brokers = env.get("STACK_KAFKA_BROKERS", "1")
        if brokers not in {"1", "3"}:
            raise StackError(f"STACK_KAFKA_BROKERS must be 1 or 3, got {brokers!r}")
        kafka_port = _port(env, "STACK_KAFKA_PORT", 9092)
        prometheus_port = _port(env, "STACK_PROMETHEUS_PORT", 9090)
        pg_port = _port(env, "STACK_PG_PORT", 55432)
        replica = env.get("STACK_PG_REPLICA", "0")
        if replica not in {"0", "1"}:
            raise StackError(f"STACK_PG_REPLICA must be 0 or 1, got {replica!r}")
        return cls(
            root=Path(env.get("STACK_DIR", str(REPO_ROOT / "var" / "stack"))).resolve(),
            kafka_port=kafka_port,
            kafka_brokers=int(brokers),
            pg_port=pg_port,
            prometheus_port=prometheus_port,
            cache_dir=Path(env.get("STACK_CACHE_DIR", str(REPO_ROOT / "var" / "cache"))).resolve(),
            pg_superuser_password=env.get("STACK_PG_PASSWORD", "postgres"),
            # Derived defaults (9404 and 9187, the exporters' usual ports, for the default
            # stack) so that a second stack with other ports does not collide by default.
            kafka_exporter_port=_port(
                env, "STACK_KAFKA_EXPORTER_PORT", kafka_port + KAFKA_EXPORTER_OFFSET
            ),
            pg_exporter_port=_port(
                env, "STACK_PG_EXPORTER_PORT", prometheus_port + PG_EXPORTER_OFFSET
            ),
            services=ServicePorts.from_env(env),
            pg_replica=replica == "1",
            pg_replica_port=_port(env, "STACK_PG_REPLICA_PORT", pg_port + PG_REPLICA_OFFSET),
        )

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def kafka_broker_ports(self) -> list[int]:
        """Client ports: 9092 for one broker; 9092, 9094, 9096 for three (controllers +1)."""
        return [self.kafka_port + 2 * i for i in range(self.kafka_brokers)]

    def kafka_exporter_ports(self) -> list[int]:
        """Each broker's JMX exporter agent: STACK_KAFKA_EXPORTER_PORT, then +2 per node."""
        return [self.kafka_exporter_port + 2 * i for i in range(self.kafka_brokers)]

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(f"127.0.0.1:{p}" for p in self.kafka_broker_ports())

    @property
    def database_url(self) -> str:
        return self.server_url(self.pg_port)

    @property
    def replica_url(self) -> str:
        """The streaming replica's superuser URL (read-only: it is a hot standby)."""
        return self.server_url(self.pg_replica_port)

    def server_url(self, port: int, database: str = "postgres") -> str:
        return f"postgresql://postgres:{self.pg_superuser_password}@127.0.0.1:{port}/{database}"
