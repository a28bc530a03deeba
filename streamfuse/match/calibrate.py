"""Per-query calibration of similarity scores.

Raw image-text (CLIP) cosine similarities cluster tightly, and where they cluster depends on the
query: "a car" may sit at 0.20-0.24 over a whole feed while "a red car on a road" sits at
0.27-0.33, so no single raw threshold serves both. A score is therefore judged against the score
distribution of the same query over the same media: ``z = (score - median) / spread``, where
``spread`` is the scaled median absolute deviation (1.4826 x MAD, the standard deviation for normal
scores, robust to the few matches themselves), floored at ``min_spread`` so that a flat
distribution does not turn noise into matches. A window matches when ``z >= threshold``: "it
stands out from this query's usual score by ``threshold`` spreads", one setting for every query.

:func:`calibrate` does it over a file's windows (all scores known); :class:`RunningCalibrator`
over a live feed's running distribution (the last ``history`` scores, matching only once
``warmup`` scores were seen).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: z a score must reach to match, by default
THRESHOLD = 3.0
#: the smallest spread used (cosine units): scores closer than this to the median never match
MIN_SPREAD = 0.005


@dataclass(frozen=True)
class Calibration:
    """The median and spread of one query's scores."""

    median: float
    spread: float

    def z(self, score: float) -> float:
        return (score - self.median) / self.spread


def calibrate(scores: Sequence[float] | np.ndarray, min_spread: float = MIN_SPREAD) -> Calibration:
    """The calibration of one query's raw ``scores`` (any length; an empty list gives 0, min_spread)."""
    s = np.asarray(scores, dtype=np.float64)
    if s.size == 0:
        return Calibration(0.0, min_spread)
    median = float(np.median(s))
    mad = float(np.median(np.abs(s - median)))
    return Calibration(median, max(1.4826 * mad, min_spread))


class RunningCalibrator:
    """A live query's calibration over its last ``history`` scores: ``update(score) -> z`` (``None``
    until ``warmup`` scores were seen: a feed's first moments have nothing to stand out from)."""

    def __init__(self, history: int = 256, warmup: int = 8, min_spread: float = MIN_SPREAD) -> None:
        self._scores: deque[float] = deque(maxlen=history)
        self.warmup = warmup
        self.min_spread = min_spread

    def update(self, score: float) -> float | None:
        """Judge ``score`` against the scores before it, then add it to them."""
        z = calibrate(self._scores, self.min_spread).z(score) if len(self._scores) >= self.warmup else None
        self._scores.append(float(score))
        return z
