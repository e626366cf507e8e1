"""The journal's hash chain: SHA-256 over the previous hash and a canonical row encoding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

GENESIS = bytes(32)


def canonical_payload(payload: Mapping[str, object]) -> str:
    """Sorted keys, no whitespace: the same text whether built in memory or read from JSONB."""
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _ts(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def entry_hash(
    prev_hash: bytes,
    *,
    event_id: str,
    event_type: str,
    order_id: str | None,
    payload: Mapping[str, object],
    writer_fingerprint: str,
    schema_version: int,
    occurred_at: datetime,
    recorded_at: datetime,
    topic: str,
    partition: int,
    offset: int,
    kafka_timestamp: datetime | None,
    record_sha256: bytes,
) -> bytes:
    """Hash of one journal row chained to its predecessor in the same (topic, partition)."""
    # A JSON array fixes field order and escapes every string unambiguously.
    encoded = json.dumps(
        [
            event_id,
            event_type,
            order_id,
            canonical_payload(payload),
            writer_fingerprint,
            schema_version,
            _ts(occurred_at),
            _ts(recorded_at),
            topic,
            partition,
            offset,
            _ts(kafka_timestamp),
            record_sha256.hex(),
        ],
        separators=(",", ":"),
        ensure_ascii=False,
    ).encode()
    return hashlib.sha256(prev_hash + encoded).digest()
