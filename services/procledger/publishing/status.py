"""What became of a sent event: applied, rejected or unknown; and waiting for the ledger."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from procledger.domain.chain import instant_text


class Outcome(StrEnum):
    APPLIED = "applied"
    REJECTED = "rejected"
    UNKNOWN = "unknown"  # not folded yet, or never seen


@dataclass(frozen=True, slots=True)
class EventStatus:
    """One event's fate in the ledger, with where the ledger read it from (Kafka coordinates)."""

    event_id: str
    status: Outcome
    event_type: str | None = None
    topic: str | None = None
    partition: int | None = None
    offset: int | None = None
    recorded_at: datetime | None = None
    reason: str | None = None
    message: str | None = None

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {"event_id": self.event_id, "status": self.status.value}
        if self.status is Outcome.UNKNOWN:
            return out
        out.update(
            event_type=self.event_type,
            topic=self.topic,
            partition=self.partition,
            offset=self.offset,
            recorded_at=instant_text(self.recorded_at) if self.recorded_at else None,
        )
        if self.status is Outcome.REJECTED:
            out.update(reason=self.reason, message=self.message)
        return out


class StatusUnavailable(RuntimeError):
    """The ledger could not be asked (database down, role refused); the message says why."""


class StatusReader(Protocol):
    """The ledger's answer for a set of event ids (absent ids are unknown)."""

    def lookup(self, event_ids: Sequence[str]) -> dict[str, EventStatus]: ...


def statuses(reader: StatusReader, event_ids: Sequence[str]) -> list[EventStatus]:
    """One status per id, in the order asked, unknown where the ledger has nothing."""
    found = reader.lookup(list(dict.fromkeys(event_ids)))
    return [found.get(i) or EventStatus(i, Outcome.UNKNOWN) for i in event_ids]


def wait_for(
    reader: StatusReader,
    event_ids: Iterable[str],
    timeout: float,
    *,
    interval: float = 0.25,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[EventStatus]:
    """Poll until every event is applied or rejected, or `timeout` seconds have passed.

    Only ids still unknown are asked again; each is returned once, in the order given.
    """
    ids = list(dict.fromkeys(event_ids))
    deadline = clock() + timeout
    known: dict[str, EventStatus] = {}
    pending = ids
    while True:
        known.update(reader.lookup(pending))
        pending = [i for i in pending if i not in known]
        if not pending or clock() >= deadline:
            break
        sleep(min(interval, max(deadline - clock(), 0.0)))
    return [known.get(i) or EventStatus(i, Outcome.UNKNOWN) for i in ids]
