"""ConsumerSettings: the ledger consumer's environment variables, read once."""

from __future__ import annotations

from dataclasses import dataclass

from procledger.settings import DatabaseSettings, Env, KafkaSettings, Topics


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """CONSUMER_GROUP, CONSUMER_METRICS_PORT, CONSUMER_MAX_RECORDS, CONSUMER_SESSION_TIMEOUT_MS,
    CONSUMER_PROGRESS_INTERVAL_S, CONSUMER_STOP_TIMEOUT_S, and PROCLEDGER_FAULT_KILL_BEFORE_DLQ
    (a fault point for the fault suite only)."""

    kafka: KafkaSettings
    topics: Topics
    database: DatabaseSettings
    group: str
    metrics_port: int
    max_records: int
    session_timeout_ms: int
    progress_interval_s: int = 30
    stop_timeout_s: int = 20
    kill_before_dlq: int = 0

    @classmethod
    def from_env(cls, env: Env) -> ConsumerSettings:
        return cls(
            kafka=KafkaSettings.from_env(env),
            topics=Topics.from_env(env),
            database=DatabaseSettings.from_env(env),
            group=env.text("CONSUMER_GROUP", "procledger-ledger"),
            metrics_port=env.integer("CONSUMER_METRICS_PORT", 9410, maximum=65535),
            max_records=env.integer("CONSUMER_MAX_RECORDS", 5000, minimum=1, maximum=100_000),
            session_timeout_ms=env.integer(
                "CONSUMER_SESSION_TIMEOUT_MS", 10_000, minimum=1000, maximum=300_000
            ),
            progress_interval_s=env.integer("CONSUMER_PROGRESS_INTERVAL_S", 30, maximum=86_400),
            stop_timeout_s=env.integer("CONSUMER_STOP_TIMEOUT_S", 20, minimum=1, maximum=3600),
            kill_before_dlq=env.integer("PROCLEDGER_FAULT_KILL_BEFORE_DLQ", 0, minimum=0),
        )
