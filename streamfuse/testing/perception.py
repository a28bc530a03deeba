"""Fixtures for perception stages (a shape entering and leaving, hard cuts, a flash that is not a
cut) and a larger clip for benchmarks; ground truth as in :mod:`streamfuse.testing.media`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..timebase import Number, as_fraction
from ._content import (
    SMALL,
    Render,
    audio_truth,
    canvas,
    cfr_clip,
    fill_box,
    samples_ceil,
    scene,
    signal,
    tone,
    video_truth,
)
from .media_av import AudioTrack, write_clip
from .truth import Truth


def make_shape_clip(
    path: str | Path, enter: Number = 1.0, leave: Number = 3.0, duration: Number = 4.0, fps: Number = 25, size: tuple[int, int] = SMALL
) -> Truth:
    """A yellow square crosses a still dark-blue frame from left to right (.mkv).

    ``shape_spans`` is ``[enter, leave)`` moved to frame times: the square is (at least half)
    visible in exactly the frames inside it and absent from all others.
    """
    fps = as_fraction(fps)
    k_in, k_out = (math.ceil(as_fraction(t) * fps) for t in (enter, leave))
    if not 0 <= k_in < k_out:
        raise ValueError(f"need 0 <= enter < leave on different frames, got enter={enter}, leave={leave}")
    side = size[1] // 3

    def render_for(width: int, height: int, n: int, fps: Fraction) -> Render:
        def render(k: int, t: Fraction) -> np.ndarray:
            img = canvas(width, height, (20, 30, 70))
            if k_in <= k < k_out:
                x = -side // 2 + (k - k_in) * (width) // (k_out - k_in)
                fill_box(img, x, (height - side) // 2, side, side, (240, 220, 30))
            return img

        return render

    path, fmt, track, times, d = cfr_clip(path, duration, fps, size, {".mkv"}, render_for)
    span = (times[k_in], times[k_out] if k_out < len(times) else d)
    write_clip(path, fmt, video=track)
    return Truth(**video_truth(path, fmt, track, times, d, fps=fps), shape_spans=(span,))



def make_hard_cut_clip(
    path: str | Path, cuts: Sequence[Number] = (1.0, 2.0), duration: Number = 3.0, size: tuple[int, int] = SMALL
) -> Truth:
    """Unrelated scenes joined by hard cuts at ``cuts`` (moved to frame times), 25 fps H.264 in .mkv."""
    fps = Fraction(25)
    cut_k = sorted(math.ceil(as_fraction(c) * fps) for c in cuts)

    def render_for(width: int, height: int, n: int, fps: Fraction) -> Render:
        return lambda k, t: scene(width, height, sum(k >= c for c in cut_k), t)

    path, fmt, track, times, d = cfr_clip(path, duration, fps, size, {".mkv"}, render_for)
    if any(not 0 < c < len(times) for c in cut_k):
        raise ValueError(f"cuts must lie inside (0, {float(d)}) s, got {list(cuts)}")
    write_clip(path, fmt, video=track)
    return Truth(**video_truth(path, fmt, track, times, d, fps=fps), cut_times=tuple(times[c] for c in cut_k))


def make_flash_not_cut_clip(
    path: str | Path, flash_at: Number = 1.0, flash_frames: int = 2, duration: Number = 3.0, size: tuple[int, int] = SMALL
) -> Truth:
    """A camera flash: ``flash_frames`` washed-out frames from ``flash_at``, the same scene before and after.

    ``flash_times`` holds the first bright frame's time; ``cut_times`` is empty, which is the point.
    """
    fps = Fraction(25)
    k0 = math.ceil(as_fraction(flash_at) * fps)

    def render_for(width: int, height: int, n: int, fps: Fraction) -> Render:
        def render(k: int, t: Fraction) -> np.ndarray:
            img = scene(width, height, 0, t)
            if k0 <= k < k0 + flash_frames:
                img = (img.astype(np.uint16) * 3 // 10 + 178).astype(np.uint8)
            return img

        return render

    path, fmt, track, times, d = cfr_clip(path, duration, fps, size, {".mkv"}, render_for)
    if not (0 < k0 and k0 + flash_frames <= len(times)):
        raise ValueError(f"the flash must fit inside the clip, got flash_at={flash_at}")
    write_clip(path, fmt, video=track)
    return Truth(**video_truth(path, fmt, track, times, d, fps=fps), flash_times=(times[k0],),
                 notes=f"the flash lasts {flash_frames} frames")  # fmt: skip


# ---------------------------------------------------------------- benchmarks


def make_bench_clip(
    path: str | Path, duration: Number = 60, width: int = 1280, height: int = 720, fps: Number = 30,
    preset: str = "ultrafast",
) -> Truth:
    """A benchmark clip: H.264 (x264 ``preset``, keyframe every 2 s) + AAC 44.1 kHz mono in .mp4.

    ``ultrafast`` makes Baseline-like streams (CAVLC, no B-frames) that decode unusually cheaply;
    ``veryfast`` and slower give High-profile streams (CABAC, B-frames) like most real footage.

    Rolling grey patterns, with a hard cut every 10 s (``cut_times``) that swaps pattern and tint; a
    440 Hz tone sounds during the first half of every whole second (``tone_spans``). Frames are
    built directly in yuv420p; x264 costs ~5-10 ms per 720p frame on one core, so the default
    60 s of 720p30 takes 10-20 s. Use a smaller size or duration in tests.
    """
    fps = as_fraction(fps)
    if width % 2 or height % 2:
        raise ValueError(f"H.264 4:2:0 needs an even size, got {width}x{height}")
    yy, xx = np.mgrid[0:height, 0:width]
    patterns = [((xx * 2 + yy) % 256).astype(np.uint8), ((yy * 3 - xx) % 256).astype(np.uint8)]
    wide = [np.concatenate([p, p], axis=1) for p in patterns]  # a window sliding over it rolls the pattern
    tints = [np.full((height // 2, width), c, np.uint8) for c in (100, 170)]
    per_cut = int(10 * fps)
    buffer = np.empty((height * 3 // 2, width), np.uint8)  # reused: the writer copies each frame at once

    def render(k: int, t: Fraction) -> np.ndarray:
        which, shift = (k // per_cut) % 2, (k * 4) % width
        buffer[:height] = wide[which][:, shift : shift + width]
        buffer[height:] = tints[which]
        return buffer

    path, fmt, track, times, d = cfr_clip(
        path, duration, fps, (width, height), {".mp4"}, lambda *a: render,
        input_format="yuv420p", options={"preset": preset}, gop=math.ceil(2 * fps),
    )  # fmt: skip
    rate = 44100
    audio = signal(Fraction(samples_ceil(d, rate), rate), rate)
    seconds = int(d)
    for s in range(seconds):
        tone(audio, s * rate, s * rate + rate // 2, 440, rate, 0.3)
    atrack = AudioTrack(audio, rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    cuts = tuple(times[k] for k in range(per_cut, len(times), per_cut))
    spans = tuple((Fraction(s), s + Fraction(1, 2)) for s in range(seconds))
    return Truth(**video_truth(path, fmt, track, times, d, fps=fps), **audio_truth(atrack), cut_times=cuts, tone_spans=spans)
