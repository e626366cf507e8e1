"""How `publish --workers` splits events: by key, the same way every run."""

from __future__ import annotations

import dataclasses
import zlib

from hypothesis import given
from hypothesis import strategies as st

from procledger.domain.events import event_key
from procledger.publishing.workers import worker_of
from tests.unit.event_samples import PLACED, SAMPLES


def test_every_event_of_one_order_goes_to_one_worker() -> None:
    order_events = [e for e in SAMPLES.values() if event_key(e) == event_key(SAMPLES["placed"])]
    assert len(order_events) > 1
    for workers in (2, 3, 7):
        assert len({worker_of(e, workers) for e in order_events}) == 1


# A key is UTF-8 text (no lone surrogates): the worker is chosen by its bytes.
@given(
    st.text(st.characters(codec="utf-8"), min_size=1, max_size=40),
    st.integers(min_value=1, max_value=32),
)
def test_the_worker_is_crc32_of_the_key(order_id: str, workers: int) -> None:
    # crc32, not hash(): Python salts str hashes per process, and pass 1 and the workers are
    # different processes.
    event = dataclasses.replace(PLACED, order_id=order_id)
    expected = zlib.crc32(event_key(event).encode()) % workers
    assert worker_of(event, workers) == expected
    assert 0 <= expected < workers
