"""The encoder contract.

An encoder is a small stateful callable with one job: ``__call__(window) -> Features``. Windows
arrive in order; an encoder may keep per-frame or per-sample results so overlapping windows do not
redo work. It declares itself in its class attribute ``spec`` (:class:`~streamfuse.spec.StageSpec`:
config key and section, modality, event kinds, look-back, flush, models, resources), from which the
project derives everything else (see :mod:`streamfuse.registry`). An encoder that can take several
windows in one call defines ``batch(windows) -> [Features]`` (equal to calling it on each in turn);
the runtime uses it when present. ``close()`` releases resources at the end of the stream. Encoders
import model libraries (inside their constructors, so that importing a module to read its spec stays
cheap); nothing upstream of them does.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, ClassVar, Literal, Mapping, Protocol, runtime_checkable

import numpy as np

from ..align.window import Window
from ..decode.payloads import TextSegment
from ..spec import StageSpec

Modality = Literal["video", "audio", "text"]


@dataclass(frozen=True)
class Detection:
    """One timed observation ``[start, end)`` in media time (Fractions, relative to the source).

    ``kind`` names what was seen (``face``, ``person``, ``motion``, ``scene.cut``, ``flash``,
    ``speech``, ``sound``, ``silence``, ``transcript``, ...; every kind is declared in its encoder's
    spec). Presence detections (a face in one frame, speech in one VAD chunk) are joined into durative
    events by the fusion stage, one series per ``label`` and ``track``; instant ones (a cut, an onset)
    become one event each. ``track`` tells apart simultaneous presences of one label (two cars).
    ``evidence`` must be JSON-serialisable. A ``transcript`` carries its exact text segment (times
    and word times as Fractions) in ``segment``.
    """

    kind: str
    start: Fraction
    end: Fraction
    confidence: float
    label: str | None = None
    text: str | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    instant: bool = False
    track: str | None = None
    segment: TextSegment | None = None

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"Detection {self.kind} ends before it starts: [{self.start}, {self.end})")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"Detection {self.kind} confidence {self.confidence} outside [0, 1]")


@dataclass(frozen=True, eq=False)
class FeatureSeries:
    """Vectors over time inside a window: one row of ``values`` (``n x d`` float32) per step, step
    ``i`` starting at ``times[i]`` (exact media time) and lasting ``step`` (per-frame image embeddings,
    per-patch audio class scores)."""

    times: tuple[Fraction, ...]
    values: np.ndarray
    step: Fraction

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or self.values.dtype != np.float32 or len(self.values) != len(self.times):
            raise ValueError(f"FeatureSeries needs {len(self.times)} x d float32 values, got "
                             f"{self.values.shape} {self.values.dtype}")

    def __repr__(self) -> str:
        return f"FeatureSeries(steps={len(self.times)}, dim={self.values.shape[1]}, step={self.step})"


@dataclass(frozen=True, eq=False)
class Features:
    """What one encoder made of one window.

    ``summary`` is a small dict that goes into ``windows.jsonl`` under the encoder's name (e.g.
    ``{"faces": 1}``): JSON values, and exact times as Fractions (written as seconds); ``detections`` are the timed observations inside the
    window; ``embeddings`` are named vectors of the window (1-D float32, any width; written to the
    binary sidecar ``embeddings/<encoder>.<name>.npy``, not into JSON); ``sequences`` are named
    vectors over time (a fusion model consumes them); ``labels`` are the window's top class labels
    with scores 0-1, best first.
    """

    encoder: str
    modality: Modality
    summary: dict[str, Any] = field(default_factory=dict)
    detections: tuple[Detection, ...] = ()
    embeddings: Mapping[str, np.ndarray] = field(default_factory=dict)
    sequences: Mapping[str, FeatureSeries] = field(default_factory=dict)
    labels: tuple[tuple[str, float], ...] = ()

    def __post_init__(self) -> None:
        for name, vector in self.embeddings.items():
            if not isinstance(vector, np.ndarray) or vector.ndim != 1 or vector.dtype != np.float32:
                raise ValueError(f"Features {self.encoder}: embedding {name!r} must be a 1-D float32 array")

    def __repr__(self) -> str:
        dims = {k: v.shape[0] for k, v in self.embeddings.items()}
        return (f"Features({self.encoder!r}, detections={len(self.detections)}, embeddings={dims}, "
                f"sequences={list(self.sequences)}, labels={len(self.labels)})")


@runtime_checkable
class Encoder(Protocol):
    spec: ClassVar[StageSpec]
    name: ClassVar[str]
    modality: ClassVar[Modality]

    def __call__(self, window: Window) -> Features: ...

    def close(self) -> None: ...


class BaseEncoder:
    """Convenience base: ``name`` and ``modality`` from the spec, a no-op ``close``, ``empty()``."""

    spec: ClassVar[StageSpec]
    name: ClassVar[str] = "base"
    modality: ClassVar[Modality] = "video"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        spec = cls.__dict__.get("spec")
        if isinstance(spec, StageSpec):
            cls.name = spec.key
            cls.modality = spec.modality

    def __call__(self, window: Window) -> Features:  # pragma: no cover - abstract
        raise NotImplementedError

    def close(self) -> None:
        pass

    def empty(self, **summary: Any) -> Features:
        return Features(self.name, self.modality, summary=dict(summary))
