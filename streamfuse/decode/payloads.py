"""What the decoder produces: timed video frames, audio clips and text segments.

Every payload carries exact times (``Fraction`` seconds, relative to the source's start, or integer
sample indices at :data:`~streamfuse.timebase.SAMPLE_RATE`). ``repr`` prints shapes, not arrays.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Literal

import numpy as np

from ..timebase import SAMPLE_RATE, samples_to_seconds


@dataclass(frozen=True, eq=False)
class VideoFrame:
    """One decoded, resized RGB frame.

    ``pts``/``time_base`` are the stream's own; ``time`` is the exact media time relative to the
    source's start (``pts * time_base - origin``); ``duration`` is the frame's nominal duration.
    """

    pts: int
    time_base: Fraction
    time: Fraction
    duration: Fraction
    image: np.ndarray  # H x W x 3, uint8, RGB

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"VideoFrame.image must be HxWx3 uint8, got {self.image.shape} {self.image.dtype}")
        if self.duration <= 0:
            raise ValueError(f"VideoFrame.duration must be > 0, got {self.duration}")

    @property
    def end(self) -> Fraction:
        return self.time + self.duration

    def __repr__(self) -> str:
        return f"VideoFrame(time={float(self.time):.4f}, pts={self.pts}, tb={self.time_base}, image={self.image.shape})"


@dataclass(frozen=True, eq=False)
class Thumbnail:
    """A tiny RGB picture of one decoded frame, for every decoded frame (not only the sampled ones):
    what per-frame statistics (scene cuts, flashes) need at the source's full frame rate, whatever
    the analysis rate. ``time`` and ``duration`` are the frame's (exact media time)."""

    time: Fraction
    duration: Fraction
    image: np.ndarray  # h x w x 3, uint8, RGB; ``decode.thumbnail_width`` wide

    def __post_init__(self) -> None:
        if self.image.ndim != 3 or self.image.shape[2] != 3 or self.image.dtype != np.uint8:
            raise ValueError(f"Thumbnail.image must be HxWx3 uint8, got {self.image.shape} {self.image.dtype}")

    @property
    def end(self) -> Fraction:
        return self.time + self.duration

    def __repr__(self) -> str:
        return f"Thumbnail(time={float(self.time):.4f}, image={self.image.shape})"


@dataclass(frozen=True, eq=False)
class AudioClip:
    """Mono float32 samples ``[start, start + len(samples))`` at ``sample_rate``.

    ``start`` is a sample index relative to the source's start. ``missing`` lists the sample spans
    ``[a, b)`` (absolute indices) that hold zeros because no audio existed there (before a delayed
    audio start, in a gap, or past the end of the stream).
    """

    start: int
    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    missing: tuple[tuple[int, int], ...] = ()

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype != np.float32:
            raise ValueError(f"AudioClip.samples must be 1-D float32, got {self.samples.shape} {self.samples.dtype}")
        for a, b in self.missing:
            if not (self.start <= a < b <= self.end):
                raise ValueError(f"AudioClip.missing span [{a}, {b}) is outside [{self.start}, {self.end})")

    @property
    def end(self) -> int:
        return self.start + len(self.samples)

    @property
    def start_time(self) -> Fraction:
        return samples_to_seconds(self.start, self.sample_rate)

    @property
    def end_time(self) -> Fraction:
        return samples_to_seconds(self.end, self.sample_rate)

    @property
    def missing_samples(self) -> int:
        return sum(b - a for a, b in self.missing)

    def valid_mask(self) -> np.ndarray:
        """Boolean mask, True where the samples are real audio."""
        mask = np.ones(len(self.samples), dtype=bool)
        for a, b in self.missing:
            mask[a - self.start : b - self.start] = False
        return mask

    def __repr__(self) -> str:
        return (f"AudioClip(start={self.start}, samples={self.samples.shape}, rate={self.sample_rate}, "
                f"missing={self.missing_samples})")


@dataclass(frozen=True)
class TextSegment:
    """A timed piece of text ``[start, end)``: a subtitle cue or a recognised utterance."""

    start: Fraction
    end: Fraction
    text: str
    origin: Literal["subtitle", "asr"] = "subtitle"
    words: tuple[tuple[Fraction, Fraction, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise ValueError(f"TextSegment ends before it starts: [{self.start}, {self.end})")
