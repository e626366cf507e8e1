"""Compare a ledger with what its published events must give, independently of the fold."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import psycopg
from kafka import KafkaConsumer, TopicPartition

from procledger.scenario.synthetic import SyntheticOracle
from procledger.settings import KafkaSettings

Key = tuple[str, int | None]


@dataclass(frozen=True)
class Expected:
    """Journal rows, rejections by reason code and ordered USD per (buyer, calibre)."""

    journal: int
    orders: int
    rejections: Mapping[str, int]
    value_usd: Mapping[Key, Decimal]
    records: Mapping[str, int] = field(default_factory=dict)  # topic -> records published

    @classmethod
    def from_synthetic(
        cls, oracle: SyntheticOracle, extra: Mapping[str, int] | None = None
    ) -> Expected:
        """The generator's own expectations, plus `extra` rejections the test added."""
        rejections = Counter({reason.upper(): n for reason, n in oracle.rejected.items() if n})
        rejections.update(extra or {})
        return cls(
            journal=oracle.applied,
            orders=oracle.orders,
            rejections=dict(rejections),
            value_usd=dict(oracle.value_usd),
        )


def end_offsets(kafka: KafkaSettings, topics: list[str]) -> dict[tuple[str, int], int]:
    """Each partition's end offset, straight from the brokers (the ledger is not asked)."""
    consumer = KafkaConsumer(client_id="chaos-oracle", **kafka.client_config())
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in sorted(consumer.partitions_for_topic(t))
        ]
        ends = consumer.end_offsets(partitions)
    finally:
        consumer.close()
    return {(tp.topic, tp.partition): int(n) for tp, n in ends.items()}


@dataclass
class LedgerFigures:
    """What the ledger holds, read with the owner role."""

    journal: int
    distinct_events: int
    orders: int
    rejections: dict[str, int]
    value_usd: dict[Key, Decimal]
    offsets: dict[tuple[str, int], list[int]]


def read_ledger(admin_url: str) -> LedgerFigures:
    with psycopg.connect(admin_url) as conn:
        one: Any = conn.execute(
            "SELECT count(*), count(DISTINCT event_id) FROM ledger.journal"
        ).fetchone()
        orders: Any = conn.execute("SELECT count(*) FROM ledger.orders").fetchone()
        reasons = conn.execute(
            "SELECT reason_code, count(*) FROM ledger.rejections GROUP BY 1"
        ).fetchall()
        totals = conn.execute(
            "SELECT buyer, caliber_mm, sum(value_usd) FROM ledger.orders GROUP BY 1, 2"
        ).fetchall()
        rows = conn.execute(
            "SELECT topic, kafka_partition, kafka_offset FROM ledger.journal"
            " UNION ALL SELECT topic, kafka_partition, kafka_offset FROM ledger.rejections"
        ).fetchall()
    offsets: dict[tuple[str, int], list[int]] = {}
    for topic, partition, offset in rows:
        offsets.setdefault((topic, partition), []).append(offset)
    return LedgerFigures(
        journal=one[0],
        distinct_events=one[1],
        orders=orders[0],
        rejections={r: n for r, n in reasons},
        value_usd={(b, c): v for b, c, v in totals},
        offsets=offsets,
    )


def discrepancies(
    figures: LedgerFigures, expected: Expected, ends: Mapping[tuple[str, int], int]
) -> list[str]:
    """Every way the ledger differs from the oracle; an empty list means exactly equal."""
    found: list[str] = []
    if figures.journal != expected.journal:
        found.append(f"journal rows {figures.journal} != expected {expected.journal}")
    if figures.distinct_events != figures.journal:
        found.append(f"{figures.journal - figures.distinct_events} event ids journaled twice")
    if figures.orders != expected.orders:
        found.append(f"orders {figures.orders} != expected {expected.orders}")
    if figures.rejections != dict(expected.rejections):
        found.append(f"rejections {figures.rejections} != expected {dict(expected.rejections)}")
    for key in sorted(set(figures.value_usd) | set(expected.value_usd), key=str):
        got, want = figures.value_usd.get(key), expected.value_usd.get(key)
        if got != want:
            found.append(f"value_usd {key}: ledger {got} != expected {want}")
    # Every offset Kafka holds is in exactly one place; nothing beyond the end either.
    for tp in sorted(set(ends) | set(figures.offsets)):
        held = sorted(figures.offsets.get(tp, []))
        if held != list(range(ends.get(tp, 0))):
            missing = len(set(range(ends.get(tp, 0))) - set(held))
            found.append(
                f"{tp}: {len(held)} offsets held for end {ends.get(tp)}, {missing} missing"
            )
    return found
