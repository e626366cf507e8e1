"""The journal's hash chain: SHA-256 over the previous hash and a canonical row encoding."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime

GENESIS = bytes(32)

# Built once: json.dumps() with non-default arguments constructs a new encoder on every call,
# which was a measurable share of the consumer's per-event cost. The output is identical.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_ROW = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_sha256 = hashlib.sha256


def canonical_payload(payload: Mapping[str, object]) -> str:
    """Sorted keys, no whitespace: the same text whether built in memory or read from JSONB."""
    return _CANONICAL.encode(payload)


def instant_text(value: datetime | None) -> str | None:
    """The chain's text for an instant: UTC, microseconds, a Z (e.g. 2024-01-01T00:00:00.000000Z).

    isoformat() is several times faster than strftime() and gives the same characters for
    every year from 1000 on; earlier years keep strftime(), whose %Y does not pad them.
    """
    if value is None:
        return None
    utc = value.astimezone(UTC)
    if utc.year < 1000:
        return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_ts = instant_text  # the name older callers used


def row_hash(  # noqa: PLR0917 - positional: called once per event on the consumer's hot path
    prev_hash: bytes,
    event_id: str,
    event_type: str,
    order_id: str | None,
    payload_text: str,
    writer_fingerprint: str,
    schema_version: int,
    occurred_text: str | None,
    recorded_text: str | None,
    topic: str,
    partition: int,
    offset: int,
    kafka_text: str | None,
    record_sha256: bytes,
) -> bytes:
    """entry_hash from pre-rendered parts: the consumer renders a batch's shared instants once.

    `payload_text` is canonical_payload(payload) and the *_text values are instant_text().
    """
    # A JSON array fixes field order and escapes every string unambiguously.
    encoded = _ROW.encode(
        [
            event_id,
            event_type,
            order_id,
            payload_text,
            writer_fingerprint,
            schema_version,
            occurred_text,
            recorded_text,
            topic,
            partition,
            offset,
            kafka_text,
            record_sha256.hex(),
        ]
    ).encode()
    return _sha256(prev_hash + encoded).digest()


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
    return row_hash(
        prev_hash,
        event_id,
        event_type,
        order_id,
        canonical_payload(payload),
        writer_fingerprint,
        schema_version,
        instant_text(occurred_at),
        instant_text(recorded_at),
        topic,
        partition,
        offset,
        instant_text(kafka_timestamp),
        record_sha256,
    )
