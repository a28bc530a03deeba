"""Events of one source: one numbering and one id scheme for everything its fusers emit."""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Iterable

from ..encode.base import Detection
from ..events.cloudevents import make_event
from ..timebase import to_float
from .tracker import Phase
from .values import json_safe


class EventFactory:
    """Builds one source's CloudEvents: ids ``<source>-<seq>`` (``<source>-<run>-<seq>`` for a live
    run), ``seq`` counting every event of the source whoever emits it (fusers, the live runtime);
    instant events get the series id ``<source>-<kind>-e<seq>``."""

    def __init__(self, source_id: str, subject: str, *, clock: Callable[[], str] | None = None,
                 run: str | None = None) -> None:
        self.source_id = source_id
        self.subject = subject
        self.clock = clock  # returns an RFC 3339 string; None = now
        self.run = run
        self.seq = 0

    def event(self, type_: str, phase: str, event_id: str, start: Fraction, end: Fraction, confidence: float,
              modalities: Iterable[str], text: str | None = None, label: str | None = None,
              evidence: dict[str, Any] | None = None) -> dict[str, Any]:
        self.seq += 1
        return make_event(source_id=self.source_id, subject=self.subject, type=type_, seq=self.seq,
                          phase=phase, event_id=event_id, start=to_float(start), end=to_float(end),
                          confidence=confidence, modalities=modalities, text=text, label=label,
                          evidence=evidence, time=self.clock() if self.clock else None, run=self.run)

    def instant(self, det: Detection, modalities: Iterable[str]) -> dict[str, Any]:
        """One instant event for ``det``."""
        event_id = f"{self.source_id}-{det.kind}-e{self.seq + 1}"
        return self.event(det.kind, "instant", event_id, det.start, det.end, det.confidence, modalities,
                          text=det.text, label=det.label, evidence=json_safe(det.evidence))

    def phases(self, phases: Iterable[Phase]) -> list[dict[str, Any]]:
        """The events of durative series' lifecycle steps."""
        out = []
        for p in phases:
            s = p.series
            out.append(self.event(s.kind, p.phase, s.event_id, p.start, p.end, p.confidence, s.modalities,
                                  label=s.label, evidence=json_safe(s.evidence)))
        return out
