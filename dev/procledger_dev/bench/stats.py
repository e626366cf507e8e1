"""Figures and how they are summarised: median of the runs, with min and max beside it."""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured quantity over one or more runs (median is the reported value)."""

    unit: str
    runs: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def min(self) -> float:
        return min(self.runs)

    @property
    def max(self) -> float:
        return max(self.runs)

    def as_json(self) -> dict[str, object]:
        return {
            "unit": self.unit,
            "median": round(self.median, 3),
            "min": round(self.min, 3),
            "max": round(self.max, 3),
            "runs": [round(r, 3) for r in self.runs],
        }


def figure(unit: str, runs: Sequence[float]) -> Figure:
    """A Figure; refuses an empty run list (a figure nobody measured is not zero)."""
    if not runs:
        raise ValueError(f"no runs for a figure in {unit}")
    return Figure(unit, tuple(runs))


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = min(len(sorted_values), max(1, math.ceil(q / 100 * len(sorted_values))))
    return sorted_values[rank - 1]
