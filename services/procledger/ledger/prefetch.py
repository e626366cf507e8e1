"""An EventSource whose next poll (and its decoding) runs while the current batch commits."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor

from procledger.ledger.batch import Item, decode_record
from procledger.ledger.ports import EventSource, KafkaRecord, TopicPartition

# A polled batch with each record decoded (decoding is the consumer's largest CPU cost).
Polled = tuple[list[KafkaRecord], list[Item]]


class PrefetchingSource:
    """Wraps an EventSource: `poll_decoded` polls and decodes, `prefetch` does it ahead.

    With prefetching on, the next poll runs in one helper thread while this process waits on
    PostgreSQL for the current batch's commit, so the decoding uses the other core. The Kafka
    client is not thread safe: every other call first joins the poll in flight, and a seek
    also drops what it fetched. Dropped records were never applied, so their offsets stay
    unconsumed in the ledger and the next poll after the seek delivers them again.
    """

    def __init__(self, inner: EventSource, *, enabled: bool) -> None:
        self._inner = inner
        self._pool = ThreadPoolExecutor(1, "prefetch") if enabled else None
        self._ahead: Future[Polled] | None = None

    def poll_decoded(self, timeout_s: float, max_records: int) -> Polled:
        """The prefetched batch if there is one, else a fresh poll, each record decoded once."""
        if self._ahead is not None:
            ahead, self._ahead = self._ahead, None
            return ahead.result()
        return self._poll(timeout_s, max_records)

    def prefetch(self, timeout_s: float, max_records: int) -> None:
        """Start the next poll in the helper thread (a no-op when prefetching is off)."""
        if self._pool is not None and self._ahead is None:
            self._ahead = self._pool.submit(self._poll, timeout_s, max_records)

    def drop(self) -> None:
        """Join the poll in flight and forget its records."""
        if self._ahead is not None:
            self._ahead.exception()
            self._ahead = None

    def _join(self) -> None:
        if self._ahead is not None:
            self._ahead.exception()  # joined; its records wait for the next poll_decoded

    def _poll(self, timeout_s: float, max_records: int) -> Polled:
        records = self._inner.poll(timeout_s, max_records)
        return records, [decode_record(r) for r in records]  # outside any transaction

    def assigned(self) -> set[TopicPartition]:
        self._join()
        return self._inner.assigned()

    def take_new_assignments(self) -> set[TopicPartition]:
        self._join()
        return self._inner.take_new_assignments()

    def seek(self, partition: TopicPartition, offset: int) -> None:
        self.drop()  # polled from offsets this seek replaces
        self._inner.seek(partition, offset)

    def commit(self, offsets: Mapping[TopicPartition, int]) -> None:
        self._join()
        self._inner.commit(offsets)

    def end_offsets(self) -> dict[TopicPartition, int]:
        self._join()
        return self._inner.end_offsets()

    def close(self) -> None:
        """Stop the helper thread; the wrapped source is closed by whoever opened it."""
        self.drop()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
