"""A fix for kafka-python's idempotent producer, which otherwise stops for good after an outage.

kafka-python 3.0.12 (the latest release) resets an idempotent producer's id when a batch that
was already sent expires (a broker paused or down past `delivery_timeout_ms`, or a record that
ran out of retries), as Kafka's Java client does. Java's resetIdempotentProducerId() also goes
back to UNINITIALIZED (KAFKA-7737), so the sender asks the broker for a new producer id.
kafka-python keeps the state READY, so `init_producer_id()` returns early, no InitProducerId
request is ever queued, and the sender thread loops for ever in its "no producer id" branch:
nothing is sent or expired again, every future stays pending, `flush()` never returns. This
was the intake's hang after a broker pause (reproduced under load with a 150 s SIGSTOP: 40 of
40 worker threads parked in `flush()`, the sender idle at sender.py:173 with no producer id).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from kafka.producer.transaction_manager import TransactionManager, TransactionState

_PATCHED = "_procledger_resets_to_uninitialized"


def _patch() -> None:
    if getattr(TransactionManager, _PATCHED, False):
        return
    original: Callable[[Any], None] = TransactionManager.reset_producer_id

    @functools.wraps(original)
    def reset_producer_id(self: Any) -> None:
        original(self)  # raises for a transactional producer, as before
        with self._lock:
            # The library forbids the transition by name; the sender's own init path
            # (UNINITIALIZED -> INITIALIZING -> READY) then runs as on the first send. Only
            # from READY: an epoch bump under way already has its InitProducerId queued.
            if self._current_state == TransactionState.READY:
                self._current_state = TransactionState.UNINITIALIZED

    TransactionManager.reset_producer_id = reset_producer_id
    setattr(TransactionManager, _PATCHED, True)


_patch()
