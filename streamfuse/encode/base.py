"""The encoder contract.

An encoder is a small stateful callable with one job: ``__call__(window) -> Features``. Windows
arrive in order; an encoder may keep per-frame or per-sample results for its declared look-back
(``lookback`` seconds) so overlapping windows do not redo work. ``close()`` releases resources at the
end of the stream. Encoders import model libraries; nothing upstream of them does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Literal, Protocol, runtime_checkable

from ..align.window import Window

Modality = Literal["video", "audio", "text"]


@dataclass(frozen=True)
class Detection:
    """One timed observation ``[start, end)`` in media time (Fractions, relative to the source).

    ``kind`` names what was seen (``face``, ``person``, ``motion``, ``scene.cut``, ``flash``,
    ``speech``, ``sound``, ``silence``, ``transcript``, ...). Presence detections (a face in one
    frame, speech in one VAD chunk) are joined into durative events by the fusion stage; instant
    ones (a cut, an onset) become one event each. ``evidence`` must be JSON-serialisable.
    """

    kind: str
    start: Fraction
    end: Fraction
    confidence: float
    label: str | None = None
    text: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    instant: bool = False

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Detection {self.kind} ends before it starts: [{self.start}, {self.end})")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Detection {self.kind} confidence {self.confidence} outside [0, 1]")


@dataclass(frozen=True)
class Features:
    """What one encoder made of one window.

    ``summary`` is a small JSON-serialisable dict that goes into ``windows.jsonl`` under the
    encoder's name (e.g. ``{"faces": 1}``); ``detections`` are the timed observations inside the
    window; ``embedding`` is an optional vector (a list of floats) for search.
    """

    encoder: str
    modality: Modality
    summary: dict[str, Any] = field(default_factory=dict)
    detections: tuple[Detection, ...] = ()
    embedding: tuple[float, ...] | None = None


@runtime_checkable
class Encoder(Protocol):
    name: ClassVar[str]
    modality: ClassVar[Modality]

    def __call__(self, window: Window) -> Features: ...

    def close(self) -> None: ...


class BaseEncoder:
    """Convenience base: name, modality, look-back and a no-op ``close``."""

    name: ClassVar[str] = "base"
    modality: ClassVar[Modality] = "video"
    #: how far back (seconds) this encoder keeps per-frame/per-sample results
    lookback: ClassVar[Fraction] = Fraction(0)

    def __call__(self, window: Window) -> Features:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def empty(self, **summary: Any) -> Features:
        return Features(self.name, self.modality, summary=dict(summary))
