"""Configuration of the audio encoders."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ConfigError
from .base import Section, bounded


@dataclass(frozen=True)
class VadConfig(Section):
    """Speech activity with the bundled silero VAD (hysteresis as in silero's ``VADIterator``)."""

    enabled: bool = True
    threshold: float = bounded(0.5, 0.0, 1.0, lo_open=True, doc="speech probability that starts speech")
    neg_threshold: float | None = bounded(None, 0.0, 1.0, doc="probability below which speech may end; "
                                          "default threshold - 0.15 (silero's rule)")
    min_speech: float = bounded(0.1, 0.0, 10.0, doc="seconds; shorter speech runs are ignored")
    min_silence: float = bounded(0.3, 0.0, 10.0, doc="seconds of silence that end a speech segment")

    def check(self) -> None:
        if self.neg_threshold is not None and self.neg_threshold > self.threshold:
            raise ConfigError(f"neg_threshold: {self.neg_threshold} is above threshold {self.threshold}; "
                              "set it lower or leave it unset")

    @property
    def speech_end_threshold(self) -> float:
        """The probability below which a speech run may end."""
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


@dataclass(frozen=True)
class LoudnessConfig(Section):
    """Loudness (dBFS, LUFS-style), onsets of loud impulsive sounds, sustained sounds, silence."""

    enabled: bool = True
    silence_dbfs: float = bounded(-60.0, -120.0, 0.0, doc="below this level a stretch is silence")
    silence_min: float = bounded(1.0, 0.05, 3600.0, doc="seconds below the silence level that make a silence span")
    onset_db: float = bounded(12.0, 1.0, 60.0, doc="rise within 10 ms, over the level before and over the "
                              "recent background, that makes an onset")
    loud_dbfs: float = bounded(-30.0, -120.0, 0.0, doc="an onset must reach this level; a sustained sound "
                               "stays above it")
    sustained_min: float = bounded(0.5, 0.05, 60.0, doc="seconds above the loud level that make a sustained sound")
