"""Audio encoders: speech activity (bundled silero VAD) and loudness, onsets, sustained sounds, silence."""

from .loudness import LoudnessEncoder
from .vad import VadEncoder

__all__ = ["VadEncoder", "LoudnessEncoder"]
