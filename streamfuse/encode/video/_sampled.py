"""The shared shape of the sampled detectors (faces, people).

A detector looks at most ``rate`` frames per second (picked by timestamp with a
:class:`~._frames.RateGate`), each frame once however many windows hold it. Every examined frame
where something was found gives one presence detection ``[frame.time, next examined frame)`` (or
``frame.end`` when no later examined frame is in the window), reported by the window that owns the
frame; the summary holds the most objects seen in one frame of the window.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ...align.window import Window
from ...decode.payloads import VideoFrame
from ...spec import BOX, COUNT, FLAG, SCORE, data
from ..base import BaseEncoder, Detection, Features
from ._frames import FrameCache, RateGate

#: the ``data`` of a sampled detector's events: the boxes of the examined frame
FOUND_DATA = data(boxes={"type": "array", "items": BOX}, count=COUNT, scores={"type": "array", "items": SCORE},
                  carried=FLAG)


@dataclass(frozen=True)
class Found:
    """What one examined frame held: boxes ``[x0, y0, x1, y1]`` (fractions 0-1) and scores 0-1."""

    boxes: tuple[tuple[float, ...], ...] = ()
    scores: tuple[float, ...] = ()
    extra: dict = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.boxes)


class SampledDetector(BaseEncoder):
    """Base of the encoders that run a detector on sampled frames; subclasses implement ``_detect``."""

    #: the kind of the detections and the summary key ("face" -> "faces")
    kind = "object"
    summary_key = "objects"

    def __init__(self, rate: float) -> None:
        self._gate = RateGate(rate)
        self._frames: FrameCache[Found | None] = FrameCache()  # None: not examined

    def _detect(self, frame: VideoFrame) -> Found:  # pragma: no cover - abstract
        raise NotImplementedError

    def __call__(self, window: Window) -> Features:
        self._frames.evict_before(window.start)
        rows: list[tuple[VideoFrame, Found | None]] = []
        for frame in window.frames:
            if frame.time in self._frames:
                rows.append((frame, self._frames[frame.time]))
            elif self._frames.is_new(frame.time):
                found = self._detect(frame) if self._gate.admit(frame.time) else None
                self._frames.put(frame.time, found)
                rows.append((frame, found))

        detections: list[Detection] = []
        next_examined: Fraction | None = None
        for frame, found in reversed(rows):
            if found is None:
                continue
            if found.count and window.owns(frame.time):
                end = next_examined if next_examined is not None else frame.end
                evidence = {"boxes": [list(b) for b in found.boxes], "count": found.count,
                            "scores": [round(s, 4) for s in found.scores], **found.extra}
                detections.append(Detection(self.kind, frame.time, end, max(found.scores), evidence=evidence))
            next_examined = frame.time
        detections.reverse()
        most = max((found.count for _, found in rows if found is not None), default=0)
        return Features(self.name, self.modality, summary={self.summary_key: most}, detections=tuple(detections))
