"""The fuser contract: every encoder's features of a window in, events and a window record out.

A fuser is a small stateful class per source, declared by its ``spec`` (a
:class:`~streamfuse.spec.StageSpec`: config key, the event kinds it emits) and registered in
:mod:`streamfuse.registry`. The fusion stage (:mod:`.stage`) runs the fusers named by
``fusion.fusers`` in order on each window; they share one :class:`~.emit.EventFactory`, so their
events have one numbering. Windows arrive in order; ``finish()`` ends whatever is open at the end
of the stream (or when a live feed is lost).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, ClassVar

import numpy as np

from ..align.window import Window
from ..config.fusion import FusionConfig
from ..decode.payloads import TextSegment
from ..encode.base import Features
from ..spec import StageSpec
from .emit import EventFactory


@dataclass
class Fused:
    """What a fuser (or the fusion stage, all fusers together) made of one window.

    ``record`` is the window's line in ``windows.jsonl`` (a fuser gives the keys it owns; the stage
    merges them), ``embeddings`` its named vectors for the binary sidecar, ``transcript`` the text
    segments that reach ``transcript.vtt``.
    """

    events: list[dict[str, Any]] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    transcript: list[TextSegment] = field(default_factory=list)
    embeddings: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class FusionContext:
    """What every fuser of a source is given.

    ``lookback`` maps each event kind to how late (seconds before the window being fused) its
    encoders may still report a detection (their declared look-back); ``horizon`` is how long
    de-duplication keys must be remembered (the largest look-back plus a window). ``embed`` is the
    sentence model (``texts -> unit vectors``) or ``None``.
    """

    source_id: str
    subject: str
    events: EventFactory
    lookback: dict[str, Fraction]
    horizon: Fraction
    embed: Callable[[str], np.ndarray] | None = None


class Fuser:
    """Base of fusers. Subclasses set ``spec`` and implement ``__call__``."""

    spec: ClassVar[StageSpec]

    def __init__(self, config: FusionConfig, context: FusionContext) -> None:
        self.config = config
        self.context = context

    def __call__(self, window: Window, features: list[Features]) -> Fused:  # pragma: no cover - abstract
        raise NotImplementedError

    def finish(self) -> list[dict[str, Any]]:
        """End everything open (end of stream, or a live feed lost); returns the events that makes."""
        return []
