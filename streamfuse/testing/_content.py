"""Pictures, sounds and bookkeeping shared by the fixture generators (private to streamfuse.testing)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..timebase import Number, as_fraction
from .media_av import VIDEO_TIME_BASES, AudioTrack, VideoTrack, format_for, quantize

SMALL = (160, 120)
DECODER_NAMES = {"libx264": "h264", "libopus": "opus", "subrip": "srt"}
AUDIO_CODECS = {"wav": "pcm_s16le", "flac": "flac", "ogg": "libopus", "mp4": "aac", "matroska": "aac"}
DARK, WHITE = (40, 40, 40), (255, 255, 255)
Render = Callable[[int, Fraction], np.ndarray]


def canvas(width: int, height: int, rgb: Sequence[int]) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = rgb
    return img


def fill_box(img: np.ndarray, x: int, y: int, w: int, h: int, rgb: Sequence[int]) -> np.ndarray:
    """Fill the part of the box ``[x, x + w) x [y, y + h)`` that lies inside ``img``."""
    img[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = rgb
    return img


def fill_disc(img: np.ndarray, cx: float, cy: float, r: float, rgb: Sequence[int]) -> np.ndarray:
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = rgb
    return img


def moving_box(width: int, height: int) -> Render:
    """A red box crossing a dark frame every 4 s; its position depends on time, not frame index."""

    def render(k: int, t: Fraction) -> np.ndarray:
        side = max(1, height // 4)
        x = int((t % 4) / 4 * (width + side)) - side
        return fill_box(canvas(width, height, DARK), x, (height - side) // 2, side, side, (220, 40, 40))

    return render


def signal(duration: Fraction, rate: int) -> np.ndarray:
    """Silence of ``duration`` (which must fall on a sample)."""
    return np.zeros(samples_at(duration, rate), np.float32)


def samples_at(t: Fraction, rate: int) -> int:
    """A time that must fall on a sample, as a sample count."""
    n = t * rate
    if n.denominator != 1:
        raise ValueError(f"{t} s is not on a sample at {rate} Hz")
    return int(n)


def tone(x: np.ndarray, a: int, b: int, freq: float, rate: int, level: float = 0.5) -> None:
    """Write ``freq`` Hz into samples ``[a, b)`` of ``x``, in cosine phase: sample ``a`` is the first
    non-zero one (``level``), so the onset is sharp and exact."""
    b = min(b, len(x))
    x[a:b] = level * np.cos(2 * np.pi * freq * np.arange(b - a) / rate)


def rendered(n: int, pts: Callable[[int], int], render: Render, time_base: Fraction) -> Iterator[tuple[int, np.ndarray]]:
    """``(pts, image)`` of frames ``0 .. n - 1``, drawn lazily; ``render`` gets the frame's exact time."""
    for k in range(n):
        p = pts(k)
        yield p, render(k, p * time_base)


def cfr_pts(n: int, fps: Fraction, time_base: Fraction, offset: Fraction = Fraction(0)) -> Callable[[int], int]:
    """pts of frame ``k`` of a constant-rate stream whose frame 0 is at ``offset``."""
    return lambda k: quantize(offset + k / fps, time_base)


def whole_ms(t: Fraction) -> Fraction:
    """``t`` rounded to the millisecond, the precision of SRT, WebVTT and Matroska."""
    return Fraction(quantize(t, Fraction(1, 1000)), 1000)


def video_truth(path: Path, fmt: str, track: VideoTrack, times: Sequence[Fraction], duration: Fraction, **kw) -> dict:
    return dict(
        path=path, container=fmt, duration=duration, video_codec=DECODER_NAMES.get(track.codec, track.codec),
        width=track.width, height=track.height, frame_times=tuple(times), **kw,
    )  # fmt: skip


def audio_truth(track: AudioTrack, start: Fraction = Fraction(0)) -> dict:
    """Truth fields of an audio track; ``start`` is the clip's origin (absolute media time)."""
    return dict(
        audio_codec=DECODER_NAMES.get(track.codec, track.codec), sample_rate=track.sample_rate, channels=1,
        audio_start=track.start - start, audio_end=track.start - start + Fraction(len(track.samples), track.sample_rate),
    )  # fmt: skip


def cfr_clip(
    path: str | Path,
    duration: Number,
    fps: Number,
    size: tuple[int, int],
    suffixes: set[str],
    render_for: Callable[[int, int, int, Fraction], Render] | None = None,
    **track_options,
) -> tuple[Path, str, VideoTrack, list[Fraction], Fraction]:
    """The common case, a constant-rate video track (H.264, a keyframe every second, unless
    ``track_options`` say otherwise) of ``round(duration * fps)`` frames drawn by
    ``render_for(width, height, n, fps)`` (a moving box by default).

    Returns ``(path, muxer, track, frame times, duration)``; the frame times are exact, the pts
    each frame is written with.
    """
    path = Path(path)
    fmt = format_for(path, suffixes)
    fps = as_fraction(fps)
    tb = VIDEO_TIME_BASES[fmt]
    n = max(1, quantize(as_fraction(duration) * fps, Fraction(1)))
    width, height = size
    render = render_for(width, height, n, fps) if render_for else moving_box(width, height)
    pts = cfr_pts(n, fps, tb)
    track_options.setdefault("gop", math.ceil(fps))
    track = VideoTrack(width, height, rendered(n, pts, render, tb), tb, rate=fps, **track_options)
    return path, fmt, track, [pts(k) * tb for k in range(n)], Fraction(n) / fps


def samples_ceil(t: Fraction, rate: int) -> int:
    """Samples needed to cover ``[0, t)``."""
    return math.ceil(t * rate)


def noisy_box(width: int, height: int, n: int, fps: Fraction) -> Render:
    """Fresh noise every frame, so each frame costs about the same number of bytes."""
    rng = np.random.default_rng(0)
    box = moving_box(width, height)

    def render(k: int, t: Fraction) -> np.ndarray:
        img = box(k, t)
        img[: height // 3] = rng.integers(0, 256, (height // 3, width, 3), np.uint8)
        return img

    return render


def scene(width: int, height: int, which: int, t: Fraction) -> np.ndarray:
    """One of three visually unrelated scenes, each with a little motion."""
    shift = int(t * 20)
    if which % 3 == 0:
        img = np.zeros((height, width, 3), np.uint8)
        img[..., 0] = np.linspace(30, 200, width, dtype=np.uint8)[None, :]
        img[..., 2] = 90
        return fill_disc(img, width / 3 + shift, height / 2, height / 5, (250, 250, 250))
    if which % 3 == 1:
        img = canvas(width, height, (20, 120, 40))
        img[(np.arange(height) // 10 % 2 == 0)] = (200, 230, 90)
        return fill_box(img, width - 30 - shift, 10, 24, 24, (120, 0, 160))
    img = canvas(width, height, (150, 150, 170))
    img[:, np.arange(width) // 16 % 2 == 0] = (60, 20, 20)
    return fill_box(img, 10 + shift, height - 40, 30, 30, (0, 200, 255))
