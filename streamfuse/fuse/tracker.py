"""Durative events with a lifecycle: ``start``, optional ``update``s, ``end``, one ``event_id``.

Presence observations (a face in one frame, speech in one VAD run) of one kind are joined into a
series while they keep coming; a series ends once no observation has come for ``gap`` seconds, so
one walk across the frame is one event, not fifty. A series is announced (``start``) only once it
has lasted ``min_duration`` (hysteresis against flicker); its start time is still the true start.
Series are kept apart by label and track: two cars tracked at once are two series.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..encode.base import Detection


@dataclass
class Series:
    kind: str
    event_id: str
    start: Fraction
    end: Fraction
    modalities: tuple[str, ...]
    confidence_sum: float = 0.0
    observations: int = 0
    announced: bool = False
    last_update: Fraction = Fraction(0)
    label: str | None = None
    track: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)

    @property
    def confidence(self) -> float:
        return self.confidence_sum / self.observations if self.observations else 0.0


@dataclass(frozen=True)
class Phase:
    """A lifecycle step to turn into an event."""

    phase: str  # start | update | end
    series: Series
    start: Fraction
    end: Fraction
    confidence: float


class SeriesTracker:
    """Lifecycle of one event kind (one series open at a time per label and track)."""

    def __init__(self, kind: str, modalities: tuple[str, ...], *, gap: Fraction, min_duration: Fraction,
                 update_every: Fraction = Fraction(5), id_prefix: str) -> None:
        self.kind = kind
        self.modalities = modalities
        self.gap = gap
        self.min_duration = min_duration
        self.update_every = update_every
        self.id_prefix = id_prefix
        self.open: dict[tuple[str | None, str | None], Series] = {}
        self.count = 0

    def observe(self, det: Detection) -> list[Phase]:
        out: list[Phase] = []
        key = (det.label, det.track)
        s = self.open.get(key)
        if s is not None and det.start > s.end + self.gap:
            out.extend(self._finish(s))
            s = None
        if s is None:
            self.count += 1
            s = Series(self.kind, f"{self.id_prefix}-{self.kind}-{self.count}", det.start, det.end,
                       self.modalities, label=det.label, track=det.track)
            self.open[key] = s
        if det.end < s.start:
            return out  # a late observation from before this series
        s.start = min(s.start, det.start) if not s.announced else s.start
        s.end = max(s.end, det.end)
        s.confidence_sum += det.confidence
        s.observations += 1
        if det.evidence:
            s.evidence = dict(det.evidence)
        if not s.announced and s.end - s.start >= self.min_duration:
            s.announced = True
            s.last_update = s.end
            out.append(Phase("start", s, s.start, s.end, s.confidence))
        elif s.announced and s.end - s.last_update >= self.update_every:
            s.last_update = s.end
            out.append(Phase("update", s, s.start, s.end, s.confidence))
        return out

    def advance(self, now: Fraction) -> list[Phase]:
        """Everything before ``now`` has been observed: end series idle for longer than ``gap``."""
        out: list[Phase] = []
        for s in list(self.open.values()):
            if s.end + self.gap <= now:
                out.extend(self._finish(s))
        return out

    def close_all(self) -> list[Phase]:
        out: list[Phase] = []
        for s in list(self.open.values()):
            out.extend(self._finish(s))
        return out

    def active(self) -> list[Series]:
        return [s for s in self.open.values() if s.announced]

    def _finish(self, s: Series) -> list[Phase]:
        del self.open[(s.label, s.track)]
        out: list[Phase] = []
        if not s.announced:
            if s.end - s.start < self.min_duration:
                return out  # flicker: never announced, never ended
            out.append(Phase("start", s, s.start, s.end, s.confidence))
        out.append(Phase("end", s, s.start, s.end, s.confidence))
        return out
