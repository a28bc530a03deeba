"""What the demuxer yields besides payloads, and what it reports: stream bounds and closes that
the aligner synchronises on, skipped damage, and :class:`DemuxReport`. Times are exact Fraction
seconds of media time; spans are half-open ``[start, end)``."""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Union

from .payloads import AudioClip, TextSegment, Thumbnail, VideoFrame


@dataclass(frozen=True)
class StreamBound:
    """Nothing earlier than ``time`` will come on ``stream`` any more."""

    stream: str
    time: Fraction


@dataclass(frozen=True)
class StreamClosed:
    """``stream`` has ended (or the source never had it)."""

    stream: str


@dataclass(frozen=True)
class Damage:
    """The decoder skipped corrupt data in ``[start, end)``."""

    start: Fraction
    end: Fraction
    reason: str


Item = Union[VideoFrame, Thumbnail, AudioClip, TextSegment, StreamBound, StreamClosed, Damage]


@dataclass
class DemuxReport:
    """What the demuxer saw; filled in while it runs."""

    streams: list[str] = field(default_factory=list)
    container: str = ""
    duration: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    frame_rate: str | None = None
    frames_decoded: int = 0
    frames_sampled: int = 0
    audio_samples: int = 0
    subtitle_cues: int = 0
    decode_errors: int = 0
    damaged: list[tuple[float, float, str]] = field(default_factory=list)
    truncated: bool = False
    skipped_nonref: bool = False  # frames no other frame refers to were not decoded
    media_end: float = 0.0
    #: one-line notes for the user about what was left out and why (a stream with an impossible
    #: header, subtitle cues outside the media or past the cap, ...); the rest was analysed
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return dict(self.__dict__)
