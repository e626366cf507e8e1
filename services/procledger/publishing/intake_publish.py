"""Publishing for the intake: every request answered within a bound, whatever Kafka does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

from procledger.adapters.kafka.probe import BrokerStatus
from procledger.adapters.kafka.publisher import Published, PublishError
from procledger.domain.events import Event, event_type
from procledger.settings import Topics

T = TypeVar("T")

# After SIGTERM, requests in flight get this long for the broker's answer, then a 503: the
# process must end within 10 s whatever the broker does.
STOP_GRACE_S = 2.0
RETRY_AFTER_S = 5
RESEND = (
    "send the same request again (re-sending is safe: an event already in the ledger with "
    "the same content is acknowledged and not applied twice)"
)


class EventPublisher(Protocol):
    """What the intake needs of KafkaOrderPublisher."""

    def submit(self, events: Iterable[Event]) -> list[Future[Published]]: ...


class BrokerWatch(Protocol):
    """What the intake needs of BrokerProbe."""

    def status(self) -> BrokerStatus: ...


class Unavailable(Exception):
    """The events were not confirmed: a 503 with this text and Retry-After."""


class IntakePublishing:
    """Sends on a small pool of its own threads and waits for the broker on the event loop.

    kafka-python's send() may block (metadata, a full buffer) for at most the limit, so it
    runs in threads; the broker's confirmations are awaited as futures, never by a thread
    parked in flush(): a stuck broker costs each request at most `limit_s`, and no pool of
    threads can be exhausted by requests waiting for it.
    """

    def __init__(
        self,
        publisher: EventPublisher,
        topics: Topics,
        limit_s: float,
        watch: BrokerWatch | None = None,
    ) -> None:
        self._publisher = publisher
        self._topics = topics
        self.limit_s = limit_s
        self._watch = watch
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="intake-send")
        self._stopping: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def _refusal(self, events: Sequence[Event]) -> str | None:
        """Why the events cannot be published at all right now (a missing topic), or None."""
        if self._watch is None:
            return None
        missing = set(self._watch.status().missing_topics)
        needed = {self._topics.for_event_type(event_type(e)) for e in events}
        if needed & missing:
            names = ", ".join(sorted(needed & missing))
            return (
                f"topic {names} does not exist on the Kafka cluster (run `procledger topics "
                "create`); nothing was published"
            )
        return None

    def readiness(self) -> str | None:
        """None if Kafka answers and every topic exists, else what is wrong."""
        return None if self._watch is None else self._watch.status().problem

    def stop(self) -> None:
        """From a signal handler: cut the waits in flight to STOP_GRACE_S."""
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)

    async def publish(self, events: Sequence[Event]) -> list[Published]:
        """The coordinates of every event once the broker confirmed all; else Unavailable."""
        refused = self._refusal(events)
        if refused is not None:
            raise Unavailable(refused)
        loop = asyncio.get_running_loop()
        if self._stopping is None:
            self._loop, self._stopping = loop, asyncio.Event()
        deadline = loop.time() + self.limit_s
        sending = asyncio.ensure_future(
            loop.run_in_executor(self._pool, self._publisher.submit, events)
        )
        futures = await self._within(sending, deadline)
        if futures is None:
            raise Unavailable(self._late())
        confirming = asyncio.gather(*(asyncio.wrap_future(f) for f in futures))
        try:
            confirmed = await self._within(confirming, deadline)
        except PublishError as err:
            raise Unavailable(f"Kafka did not confirm the events ({err}); {RESEND}") from err
        if confirmed is None:
            raise Unavailable(self._late())
        return confirmed

    async def _within(self, work: asyncio.Future[T], deadline: float) -> T | None:
        """`work`'s result, or None at the deadline (sooner once stopping); never cancels it
        before it ends: records already handed to the producer may still be confirmed."""
        assert self._stopping is not None
        loop = asyncio.get_running_loop()
        stop: asyncio.Future[Any] = asyncio.ensure_future(self._stopping.wait())
        either: set[asyncio.Future[Any]] = {work, stop}
        try:
            await asyncio.wait(
                either,
                timeout=max(0.0, deadline - loop.time()),
                return_when=asyncio.FIRST_COMPLETED,
            )
            if not work.done() and stop.done():
                grace = min(STOP_GRACE_S, max(0.0, deadline - loop.time()))
                await asyncio.wait({work}, timeout=grace)
        finally:
            stop.cancel()
        if not work.done():
            # Its outcome no longer matters to the caller; retrieve it so none is logged.
            work.add_done_callback(_consume)
            return None
        return work.result()

    def _late(self) -> str:
        why = (
            "the intake is stopping"
            if self._stopping and self._stopping.is_set()
            else (
                f"Kafka did not confirm the events within {self.limit_s:g} s "
                "(INTAKE_PUBLISH_TIMEOUT_S)"
            )
        )
        return f"{why}; some may have been written: {RESEND}"

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def _consume(work: asyncio.Future[Any]) -> None:
    if not work.cancelled():
        work.exception()
