"""De-duplication across overlapping windows.

Overlapping windows repeat detections, and a late one (a cut decided after look-ahead, an utterance
recognised once it ended) may arrive windows after its start; each must be reported once, at first
sight. Keys are remembered for the fusion context's ``horizon`` (the largest declared look-back
plus a window), so memory stays flat on hour-long input.
"""

from __future__ import annotations

from collections import OrderedDict
from fractions import Fraction
from typing import Callable, Hashable, Iterable

from ..align.window import Window
from ..encode.base import Detection


def detection_key(det: Detection) -> tuple:
    return (det.kind, det.label, det.track, det.start, det.instant)


class Seen:
    """Keys seen so far, each with a media time; keys older than ``horizon`` before the newest are
    forgotten (nothing can repeat them any more)."""

    def __init__(self, horizon: Fraction) -> None:
        self.horizon = horizon
        self._keys: OrderedDict[Hashable, Fraction] = OrderedDict()

    def __contains__(self, key: Hashable) -> bool:
        return key in self._keys

    def add(self, key: Hashable, t: Fraction) -> None:
        self._keys[key] = t
        while self._keys and next(iter(self._keys.values())) < t - self.horizon:
            self._keys.popitem(last=False)

    def first_time(self, key: Hashable, t: Fraction) -> bool:
        """True (and remembered) the first time ``key`` is seen."""
        if key in self._keys:
            return False
        self.add(key, t)
        return True


class FreshDetections:
    """The detections of a window that no earlier window reported.

    ``hold(det)`` says whether a detection must wait for the window that owns its start (whose
    other decisions, such as speech, are complete by then) instead of being taken at first sight.
    """

    def __init__(self, seen: Seen, hold: Callable[[Detection], bool] = lambda d: False) -> None:
        self.seen = seen
        self.hold = hold
        self.pending: list[Detection] = []  # held detections, one copy each

    def __call__(self, window: Window, detections: Iterable[Detection]) -> list[Detection]:
        fresh, later = [], []
        for det in list(detections) + self.pending:
            key = detection_key(det)
            if key in self.seen:
                continue
            if self.hold(det) and det.start >= window.own_end and not window.final:
                later.append(det)
                continue
            self.seen.add(key, det.start)
            fresh.append(det)
        # one copy of each held detection (later windows report most of them again)
        self.pending = list({detection_key(d): d for d in later}.values())
        return fresh
