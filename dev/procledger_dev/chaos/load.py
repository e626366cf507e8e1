"""Publishing while faults happen: a thread that sends events in chunks, then reports."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence

from procledger.adapters.kafka.publisher import KafkaOrderPublisher
from procledger.domain.events import Event
from procledger.settings import KafkaSettings, Topics


class PublisherThread(threading.Thread):
    """Sends `events` in `chunks` slices (acks=all, idempotent), pausing between slices.

    The producer's own retries ride out broker restarts; an error the producer gives up on
    is kept in `error` for the test to fail on, never swallowed.
    """

    def __init__(
        self,
        kafka: KafkaSettings,
        topics: Topics,
        events: Sequence[Event],
        *,
        chunks: int = 20,
        pause_s: float = 0.2,
    ) -> None:
        super().__init__(name="chaos-publisher", daemon=True)
        self._kafka = kafka
        self._topics = topics
        self._events = events
        self._chunks = max(1, chunks)
        self._pause_s = pause_s
        self.published = 0
        self.error: BaseException | None = None
        self.chunk_done = threading.Event()

    def run(self) -> None:
        publisher = KafkaOrderPublisher(self._kafka, self._topics, source_system="chaos")
        size = -(-len(self._events) // self._chunks)
        try:
            for start in range(0, len(self._events), size):
                report = publisher.publish(self._events[start : start + size])
                self.published += report.total
                self.chunk_done.set()
                time.sleep(self._pause_s)
        except BaseException as err:  # kept for the test; a thread cannot raise to it
            self.error = err
        finally:
            publisher.close()

    def finish(self, timeout: float = 900) -> int:
        """Wait for the last chunk; raise what the producer gave up with, if anything."""
        self.join(timeout)
        if self.is_alive():
            raise TimeoutError("the publisher did not finish")
        if self.error is not None:
            raise RuntimeError(f"publishing failed: {self.error!r}") from self.error
        return self.published


def slices(events: Sequence[Event], parts: int) -> list[Sequence[Event]]:
    """`events` in `parts` consecutive slices of (nearly) equal size, order kept."""
    size = max(1, -(-len(events) // parts))
    return [events[i : i + size] for i in range(0, len(events), size)]
