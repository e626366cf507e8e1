"""Background probes: a server is asked in a thread, so a scrape reads a result, never waits."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")


class OutageLog:
    """Logs once when something becomes unreachable (with the error) and once when it is back
    (with how long it was out): a log a person can follow, not a line per retry. While it
    stays out, a reminder every `remind_s` (with the latest error), so a log read hours later
    still shows the outage going on."""

    def __init__(
        self,
        what: str,
        logger: logging.Logger,
        clock: Callable[[], float] = time.monotonic,
        remind_s: float = 60.0,
    ) -> None:
        self.what = what
        self._log = logger
        self._clock = clock
        self._remind_s = remind_s
        self._lock = threading.Lock()
        self._down_since: float | None = None
        self._said_at = 0.0

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def failed(self, error: str) -> None:
        with self._lock:
            now = self._clock()
            since = self._down_since
            if since is not None and now - self._said_at < self._remind_s:
                return
            self._said_at = now
            if since is None:
                self._down_since = now
        if since is None:
            self._log.warning("%s unreachable: %s", self.what, error)
        else:
            self._log.warning("%s still unreachable after %.0fs: %s", self.what, now - since, error)

    def recovered(self) -> None:
        with self._lock:
            since, self._down_since = self._down_since, None
        if since is not None:
            self._log.warning("%s reachable again after %.1fs", self.what, self._clock() - since)


@dataclass(frozen=True, slots=True)
class ProbeState(Generic[T]):
    """What a scrape reports: the last good value and whether the probe succeeds now.

    `ok` is False when the last attempt failed or when one has been waiting past its timeout
    (a frozen server never answers, so waiting for the answer is itself the failure).
    """

    value: T | None
    ok: bool
    value_age_s: float | None
    duration_s: float | None
    error: str | None


# A refresher bounded by its busy share waits at most this many intervals between calls.
MAX_BUSY_PAUSE_INTERVALS = 12


class Refresher(Generic[T]):
    """Calls `fetch` every `interval_s` in a daemon thread, each call bounded by `timeout_s`.

    The call runs in a thread of its own; the refresher waits at most `timeout_s` for it, then
    records the failure (and logs it through `outage`) while the call is left to finish on
    its own: a hung client library is not interrupted, but nothing waits on it and no second
    call is stacked on top of it. With `busy_share` below 1, calls take at most that share of
    the time: a read that grows with the ledger then refreshes less often, instead of running
    back to back once it takes longer than the interval.
    """

    def __init__(
        self,
        name: str,
        fetch: Callable[[], T],
        *,
        interval_s: float,
        timeout_s: float,
        busy_share: float = 1.0,
        outage: OutageLog | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 0.0 < busy_share <= 1.0:
            raise ValueError(f"busy_share must be in (0, 1], got {busy_share}")
        self.name = name
        self._fetch = fetch
        self._interval_s = interval_s
        self._timeout_s = timeout_s
        self._busy_share = busy_share
        self._outage = outage
        self._clock = clock
        self._lock = threading.Lock()
        self._value: T | None = None
        self._value_at: float | None = None
        self._ok = False
        self._error: str | None = "not probed yet"
        self._duration: float | None = None
        self._in_flight_since: float | None = None
        self._pending: Future[T] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Refresher[T]:
        self._thread = threading.Thread(target=self._loop, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> bool:
        """Ends the loop; True if no call is left running (a hung one is abandoned, and the
        caller must not close what it uses: its thread is a daemon and ends with the process)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(self._timeout_s + 1)
        with self._lock:
            return self._pending is None or self._pending.done()

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = self._clock()
            finished = self.refresh_once()
            self._stop.wait(self.pause_after(self._clock() - started, finished=finished))

    def pause_after(self, took: float, *, finished: bool = True) -> float:
        """Seconds to wait after a refresh that took `took`: the rest of the interval, and, after
        a call that finished, at least what keeps calls within `busy_share` of the time (up to
        MAX_BUSY_PAUSE_INTERVALS intervals: a call that waited on a frozen server is not all
        cost). A call still hung costs the server nothing: it is looked at again on time."""
        rest = self._interval_s - took
        if not finished:
            return max(rest, 0.0)
        bound = took * (1.0 / self._busy_share - 1.0)
        return max(rest, min(bound, MAX_BUSY_PAUSE_INTERVALS * self._interval_s), 0.0)

    def _call(self) -> Future[T]:
        # A daemon thread per call, not an executor: an executor's workers are joined at
        # interpreter exit, so a call hung on a frozen server would keep the process alive.
        future: Future[T] = Future()

        def call() -> None:
            try:
                future.set_result(self._fetch())
            except BaseException as err:  # handed to the waiting refresher
                future.set_exception(err)

        threading.Thread(target=call, name=f"{self.name}-call", daemon=True).start()
        return future

    def refresh_once(self) -> bool:
        """One attempt, waiting at most `timeout_s` (an attempt still hung is waited on); True
        if the call finished (with a value or an error), False if it is still running."""
        with self._lock:
            if self._pending is None:
                self._in_flight_since = self._clock()
                self._pending = self._call()
            pending, since = self._pending, self._in_flight_since
        try:
            value = pending.result(timeout=self._timeout_s)
        except FutureTimeout:
            waited = self._clock() - (since or 0.0)
            self._failed(f"no answer within {waited:.1f}s", done=False)
            return False
        except Exception as err:  # the probe reports any failure; the service goes on
            self._failed(f"{type(err).__name__}: {err}".strip(), done=True)
            return True
        now = self._clock()
        with self._lock:
            self._pending = None
            self._duration = now - (since or now)
            self._value, self._value_at, self._ok, self._error = value, now, True, None
        if self._outage is not None:
            self._outage.recovered()
        return True

    def _failed(self, error: str, *, done: bool) -> None:
        with self._lock:
            if done:
                self._pending = None
                self._duration = self._clock() - (self._in_flight_since or self._clock())
            self._ok, self._error = False, error
        if self._outage is not None:
            self._outage.failed(error)

    def state(self) -> ProbeState[T]:
        """The last outcome, as of now: never blocks on the probed server."""
        with self._lock:
            now = self._clock()
            ok = self._ok
            if self._pending is not None and self._in_flight_since is not None:
                ok = ok and now - self._in_flight_since <= self._timeout_s
            age = None if self._value_at is None else now - self._value_at
            return ProbeState(self._value, ok, age, self._duration, self._error)
