"""Configuration of speech recognition, text embeddings and keywords."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from .base import Section, bounded


@dataclass(frozen=True)
class AsrConfig(Section):
    """Speech recognition with faster-whisper, gated by the VAD."""

    enabled: bool = True
    model: str = "bundled:tiny.en"
    compute_type: str = "int8"
    beam_size: int = bounded(1, 1, 10)
    prefer: Literal["subtitles", "asr"] = "subtitles"


@dataclass(frozen=True)
class TextConfig(Section):
    """Sentence embeddings of transcripts and descriptions with the bundled all-MiniLM-L6-v2."""

    enabled: bool = True
    model: str = "bundled:all-MiniLM-L6-v2"


@dataclass(frozen=True)
class KeywordConfig(Section):
    """Phrases that raise ``keyword`` events, matched case- and punctuation-insensitively."""

    phrases: list[str] = field(default_factory=list)
