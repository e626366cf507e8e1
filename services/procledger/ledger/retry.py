"""How long to wait before trying a transient failure again: backoff with full jitter."""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with full jitter; `conflict_limit` bounds retries of conflicts."""

    base_s: float = 0.2
    cap_s: float = 10.0
    conflict_limit: int = 10

    def delay(self, attempt: int) -> float:
        return random.uniform(0, min(self.cap_s, self.base_s * 2**attempt))
