"""Configuration of the fusion stage: which fusers run, and the rule-based fuser's settings.

The rule-based fuser (``rules``, the default) reads the keys directly under ``fusion.``; any other
registered fuser has its own section, ``fusion.<key>``. Config keys are public API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import ConfigError
from .base import Section, StageSections, bounded


@dataclass(frozen=True)
class KeywordConfig(Section):
    """Phrases that raise ``keyword`` events, matched case- and punctuation-insensitively."""

    phrases: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class FusionConfig(StageSections):
    """How per-window evidence becomes events.

    ``fusers`` are the fusers that run, in order, on every window (each sees every encoder's
    features; their events share one numbering); ``rules`` is the rule-based evidence fusion;
    ``model`` a trained fusion model folder, run by the ``learned`` fuser (added when it is set).
    """

    _group = "fusers"

    fusers: list[str] = field(default_factory=lambda: ["rules"])
    gap: float = bounded(1.0, 0.0, 60.0, doc="seconds without evidence before a durative event ends")
    min_duration: float = bounded(0.0, 0.0, 60.0, doc="durative events shorter than this are dropped")
    speech_gap: float = bounded(0.3, 0.0, 10.0, doc="seconds of silence that end a speech (or silence) event")
    sound_over_speech_dbfs: float = bounded(-0.5, -120.0, 0.0,
                                            doc="a sound during speech is reported only when its peak reaches this "
                                                "level (default: only near-clipping sounds)")
    min_confidence: float = bounded(0.0, 0.0, 1.0)
    keywords: KeywordConfig = field(default_factory=KeywordConfig)
    model: str | None = field(default=None, metadata={"doc": "a trained fusion model folder (streamfuse train); "
                                                            "setting it runs the learned fuser after the others"})
    sections: Mapping[str, Any] = field(default_factory=dict, repr=False)

    def check(self) -> None:
        from .. import registry

        if self.model and "learned" not in self.fusers:
            object.__setattr__(self, "fusers", [*self.fusers, "learned"])
        known = [cls.spec.key for cls in registry.stages("fusers")]
        if not self.fusers:
            raise ConfigError(f"fusers: at least one fuser must run; known: {', '.join(known)}")
        for name in self.fusers:
            if name not in known:
                raise ConfigError(f"fusers: {name!r} is not one of {', '.join(map(repr, known))}")
