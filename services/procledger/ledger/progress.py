"""ProgressLog: one INFO line at a steady interval while work flows, none while idle."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

log = logging.getLogger("procledger.ledger.progress")


class ProgressLog:
    """Counts applied and rejected records and the last measured lag; says so every interval.

    A person tailing the log of a consumer folding a large backlog sees how far it is and how
    fast it goes; an idle consumer writes nothing.
    """

    def __init__(
        self,
        interval_s: float,
        logger: logging.Logger = log,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval_s = interval_s
        self._log = logger
        self._clock = clock
        self._since = clock()
        self.applied = 0
        self.rejected = 0
        self._window_applied = 0
        self._window_rejected = 0
        self._lag: int | None = None

    def batch(self, applied: int, rejected: int) -> None:
        self.applied += applied
        self.rejected += rejected
        self._window_applied += applied
        self._window_rejected += rejected
        self.maybe_log()

    def lag(self, messages: int) -> None:
        self._lag = messages

    def maybe_log(self) -> None:
        """Log if the interval has passed and anything was done in it (or lag remains)."""
        if self._interval_s <= 0:
            return
        now = self._clock()
        elapsed = now - self._since
        if elapsed < self._interval_s:
            return
        worked = self._window_applied or self._window_rejected
        if worked or self._lag:
            rate = (self._window_applied + self._window_rejected) / elapsed
            lag = "unknown" if self._lag is None else f"{self._lag:,} messages"
            self._log.info(
                "progress: applied %s, rejected %s in the last %.0fs (%.0f records/s); "
                "total applied %s, rejected %s; lag %s",
                f"{self._window_applied:,}",
                f"{self._window_rejected:,}",
                elapsed,
                rate,
                f"{self.applied:,}",
                f"{self.rejected:,}",
                lag,
            )
        self._since = now
        self._window_applied = self._window_rejected = 0
