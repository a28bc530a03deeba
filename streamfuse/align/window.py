"""The window: an immutable time span ``[start, end)`` with each modality's data inside it."""

from __future__ import annotations

from dataclasses import dataclass, replace
from fractions import Fraction

from ..decode.payloads import AudioClip, TextSegment, Thumbnail, VideoFrame


@dataclass(frozen=True, eq=False)
class Window:
    """Frames, audio and text of one source in the half-open span ``[start, end)``.

    ``own_end`` closes the part of the window that no later window starts in, ``[start, own_end)``
    (the hop): a detection is reported by the window that owns its start time, so overlapping
    windows never report it twice. ``audio`` is ``None`` when the source has no audio stream;
    otherwise it holds exactly the samples of ``[start, end)``, with ``missing`` marking padding.
    ``damaged`` lists spans where the decoder skipped corrupt data. ``thumbs`` are tiny pictures of
    every decoded frame in the span (when an encoder asked for them), ``frames`` the sampled ones.
    """

    source_id: str
    index: int
    start: Fraction
    end: Fraction
    own_end: Fraction
    frames: tuple[VideoFrame, ...] = ()
    audio: AudioClip | None = None
    segments: tuple[TextSegment, ...] = ()
    has_video: bool = False
    has_audio: bool = False
    has_text: bool = False
    final: bool = False
    damaged: tuple[tuple[Fraction, Fraction], ...] = ()
    #: streams the source does not have at all ("video", "audio", "text"), as opposed to a span
    #: of a stream that exists but holds no data here
    absent: tuple[str, ...] = ()
    thumbs: tuple[Thumbnail, ...] = ()

    def __post_init__(self) -> None:
        if not self.start < self.own_end <= self.end:
            raise ValueError(f"bad window span [{self.start}, {self.own_end}, {self.end})")
        for f in self.frames:
            if not self.start <= f.time < self.end:
                raise ValueError(f"frame at {f.time} outside window [{self.start}, {self.end})")

    @property
    def modalities(self) -> list[str]:
        """The modalities the source has in this window, in a fixed order."""
        out = []
        if self.has_video:
            out.append("video")
        if self.has_audio:
            out.append("audio")
        if self.has_text:
            out.append("text")
        return out

    def owns(self, t: Fraction) -> bool:
        """True when a detection starting at ``t`` belongs to this window (``start <= t < own_end``).

        The final window also owns everything after its own span.
        """
        return self.start <= t and (t < self.own_end or self.final)

    def copy(self, **changes) -> "Window":
        return replace(self, **changes)

    def __repr__(self) -> str:
        audio = None if self.audio is None else self.audio.samples.shape
        return (f"Window({self.source_id!r}#{self.index} [{float(self.start):.3f}, {float(self.end):.3f}), "
                f"frames={len(self.frames)}, thumbs={len(self.thumbs)}, audio={audio}, segments={len(self.segments)})")
