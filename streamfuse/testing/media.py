"""Tiny media fixtures with known truth, generated in code with PyAV.

Each ``make_*`` function writes one file (its format chosen by the path's suffix, where it offers a
choice) and returns a :class:`~streamfuse.testing.truth.Truth` computed from its own parameters,
never by decoding the file. Times are exact ``Fraction`` seconds. Every generator takes well under a
second except :func:`make_bench_clip`.

Which combinations decode with exact timing in plain PyAV / FFmpeg (checked by the tests):

- Matroska (``.mkv``) with PCM, FLAC or AAC audio: exact audio; video pts are whole milliseconds,
  so frame times are exact for 25 or 50 fps and rounded to the millisecond for 30 fps.
- MP4 / MOV with a 1/90000 video time base: exact frame times at any common rate; AAC is exact when
  the audio starts at 0 (an edit list trims the priming) but drifts ~1 ms when it starts later, so
  the delayed-audio fixture is Matroska.
- MPEG-TS: exact, but decoders output the AAC priming (1024 samples) as leading audio; the
  generators place it before the content. Starting at 0 with B-frames, the muxer shifts every stream
  forward to keep DTS non-negative; use a non-zero start (as broadcast captures have) for exact times.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pysubs2

from ..timebase import Number, as_fraction
from .media_av import VIDEO_TIME_BASES, AudioTrack, VideoTrack, format_for, quantize, write_clip
from .truth import Cue, Span, Truth

SMALL = (160, 120)
_DECODER_NAMES = {"libx264": "h264", "libopus": "opus", "subrip": "srt"}
_AUDIO_CODECS = {"wav": "pcm_s16le", "flac": "flac", "ogg": "libopus", "mp4": "aac", "matroska": "aac"}
_DARK, _WHITE = (40, 40, 40), (255, 255, 255)
Render = Callable[[int, Fraction], np.ndarray]


# ---------------------------------------------------------------- drawing and signals


def _canvas(width: int, height: int, rgb: Sequence[int]) -> np.ndarray:
    img = np.empty((height, width, 3), np.uint8)
    img[:] = rgb
    return img


def _box(img: np.ndarray, x: int, y: int, w: int, h: int, rgb: Sequence[int]) -> np.ndarray:
    """Fill the part of the box ``[x, x + w) x [y, y + h)`` that lies inside ``img``."""
    img[max(0, y) : max(0, y + h), max(0, x) : max(0, x + w)] = rgb
    return img


def _disc(img: np.ndarray, cx: float, cy: float, r: float, rgb: Sequence[int]) -> np.ndarray:
    yy, xx = np.ogrid[: img.shape[0], : img.shape[1]]
    img[(xx - cx) ** 2 + (yy - cy) ** 2 <= r * r] = rgb
    return img


def _moving_box(width: int, height: int) -> Render:
    """A red box crossing a dark frame every 4 s; its position depends on time, not frame index."""

    def render(k: int, t: Fraction) -> np.ndarray:
        side = max(1, height // 4)
        x = int((t % 4) / 4 * (width + side)) - side
        return _box(_canvas(width, height, _DARK), x, (height - side) // 2, side, side, (220, 40, 40))

    return render


def _signal(duration: Fraction, rate: int) -> np.ndarray:
    return np.zeros(_samples(duration, rate), np.float32)


def _samples(t: Fraction, rate: int) -> int:
    """A time that must fall on a sample, as a sample count."""
    n = t * rate
    if n.denominator != 1:
        raise ValueError(f"{t} s is not on a sample at {rate} Hz")
    return int(n)


def _tone(x: np.ndarray, a: int, b: int, freq: float, rate: int, level: float = 0.5) -> None:
    """Write ``freq`` Hz into samples ``[a, b)`` of ``x``, in cosine phase: sample ``a`` is the first
    non-zero one (``level``), so the onset is sharp and exact."""
    b = min(b, len(x))
    x[a:b] = level * np.cos(2 * np.pi * freq * np.arange(b - a) / rate)


def _frames(n: int, pts: Callable[[int], int], render: Render, time_base: Fraction) -> Iterator[tuple[int, np.ndarray]]:
    for k in range(n):
        p = pts(k)
        yield p, render(k, p * time_base)


def _cfr(n: int, fps: Fraction, time_base: Fraction, offset: Fraction = Fraction(0)) -> Callable[[int], int]:
    """pts of frame ``k`` of a constant-rate stream whose frame 0 is at ``offset``."""
    return lambda k: quantize(offset + k / fps, time_base)


def _ms(t: Fraction) -> Fraction:
    return Fraction(quantize(t, Fraction(1, 1000)), 1000)


def _video_truth(path: Path, fmt: str, track: VideoTrack, times: Sequence[Fraction], duration: Fraction, **kw) -> dict:
    return dict(
        path=path, container=fmt, duration=duration, video_codec=_DECODER_NAMES.get(track.codec, track.codec),
        width=track.width, height=track.height, frame_times=tuple(times), **kw,
    )  # fmt: skip


def _audio_truth(track: AudioTrack, start: Fraction = Fraction(0), exact: bool = True) -> dict:
    """Truth fields of an audio track; ``start`` is the clip's origin (absolute media time)."""
    return dict(
        audio_codec=_DECODER_NAMES.get(track.codec, track.codec), sample_rate=track.sample_rate, channels=1,
        audio_start=track.start - start, audio_end=track.start - start + Fraction(len(track.samples), track.sample_rate),
        audio_exact=exact,
    )  # fmt: skip


def _clip(path, duration, fps, size, allowed, render_for=None, **kw):
    """Common case: a constant-rate H.264 clip; returns (path, fmt, track, times, duration)."""
    path = Path(path)
    fmt = format_for(path, allowed)
    fps = as_fraction(fps)
    tb = VIDEO_TIME_BASES[fmt]
    n = max(1, math.floor(as_fraction(duration) * fps + Fraction(1, 2)))
    width, height = size
    render = render_for(width, height, n, fps) if render_for else _moving_box(width, height)
    pts = _cfr(n, fps, tb)
    track = VideoTrack(width, height, _frames(n, pts, render, tb), tb, rate=fps, gop=int(math.ceil(fps)), **kw)
    times = [pts(k) * tb for k in range(n)]
    return path, fmt, track, times, Fraction(n) / fps


# ---------------------------------------------------------------- the demo clip


def make_sample_clip(path: str | Path, duration: Number = 8.0) -> Truth:
    """The demo clip: 320x240 @ 25 fps H.264, AAC 44.1 kHz mono and an embedded SubRip track, in .mkv.

    A red box slides right over a navy background until a hard cut at the middle frame, after which
    a blue ball bounces over sand-coloured stripes. A 440 Hz tone sounds during ``tone_spans`` and is
    silent between; three subtitle ``cues`` describe the action. Audio timing is exact (Matroska).
    """
    width, height, fps = 320, 240, Fraction(25)
    n = max(16, quantize(as_fraction(duration) * fps, Fraction(1)))
    cut = n // 2
    at = lambda k: Fraction(k) / fps  # noqa: E731 - frame k's time, exact in Matroska's milliseconds

    def render(k: int, t: Fraction) -> np.ndarray:
        if k < cut:
            img = _canvas(width, height, (25, 35, 90))
            img[::24] = (45, 60, 130)
            x = int(k / cut * (width + 40)) - 40
            return _box(img, x, 100, 40, 40, (230, 30, 30))
        img = _canvas(width, height, (210, 200, 120))
        img[:, ::40] = (60, 150, 60)
        cy = 120 + 80 * math.sin(2 * math.pi * float(t - at(cut)) / 2)
        return _disc(img, 160, cy, 24, (30, 60, 220))

    path, fmt, track, times, d = _clip(path, at(n), fps, (width, height), {".mkv"}, lambda *a: render)
    rate = 44100
    audio = _signal(d, rate)
    tones = [(n // 8, n // 4), (3 * n // 8, 7 * n // 16), (11 * n // 16, 13 * n // 16)]
    for a, b in tones:
        _tone(audio, _samples(at(a), rate), _samples(at(b), rate), 440, rate)
    cues = (
        Cue(at(n // 16), at(5 * n // 16), "A red box slides to the right."),
        Cue(at(cut), at(5 * n // 8), "Cut to a new scene."),
        Cue(at(11 * n // 16), at(15 * n // 16), "A blue ball bounces."),
    )
    atrack = AudioTrack(audio, rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack, cues=cues, subtitle_codec="subrip")
    return Truth(
        **_video_truth(path, fmt, track, times, d, fps=fps), **_audio_truth(atrack),
        cut_times=(at(cut),), tone_spans=tuple((at(a), at(b)) for a, b in tones), cues=cues,
        subtitle_codec=_DECODER_NAMES["subrip"],
    )  # fmt: skip


# ---------------------------------------------------------------- A/V synchronisation


def make_av_sync_clip(
    path: str | Path,
    duration: Number = 6.0,
    period: Number = 0.7,
    first: Number = 0.35,
    fps: Number = 25,
    *,
    sample_rate: int = 48000,
    audio_codec: str = "pcm_s16le",
    flash_frames: int = 1,
    beep_length: Number = 0.05,
    beep_freq: float = 1000.0,
    size: tuple[int, int] = SMALL,
) -> Truth:
    """White full-frame flashes on dark grey and ``beep_freq`` Hz beeps at the same times (.mkv or .mov).

    The nominal times ``first + k * period`` are moved to the nearest frame; ``flash_times`` are
    those frames' exact times (whole milliseconds in .mkv) and each flash lasts ``flash_frames``
    frames. ``beep_times`` are the exact onsets of the beeps' first samples: equal to
    ``flash_times`` whenever those fall on a sample (any whole-millisecond time when
    ``sample_rate`` is a multiple of 1000, as the default 48 kHz is). Audio is ``audio_codec``
    (PCM by default; FLAC and AAC are exact too in .mkv).
    """
    duration, period, first, fps = map(as_fraction, (duration, period, first, fps))
    beep_length = as_fraction(beep_length)
    if period <= 0 or first < 0:
        raise ValueError(f"need period > 0 and first >= 0, got period={period}, first={first}")
    path = Path(path)
    fmt = format_for(path, {".mkv", ".mov"})
    tb = VIDEO_TIME_BASES[fmt]
    n = max(1, quantize(duration * fps, Fraction(1)))
    pts = _cfr(n, fps, tb)
    flash_frames_at = []
    k = 0
    while (f := quantize((first + k * period) * fps, Fraction(1))) + flash_frames <= n:
        flash_frames_at.append(f)
        k += 1
    lit = {f + i for f in flash_frames_at for i in range(flash_frames)}
    width, height = size
    dark, white = _canvas(width, height, _DARK), _canvas(width, height, _WHITE)
    track = VideoTrack(width, height, ((pts(k), white if k in lit else dark) for k in range(n)), tb, rate=fps)
    d = Fraction(n) / fps
    audio = np.zeros(quantize(d * sample_rate, Fraction(1)), np.float32)
    flash_times = tuple(pts(f) * tb for f in flash_frames_at)
    onsets = [quantize(t * sample_rate, Fraction(1)) for t in flash_times]
    for a in onsets:
        _tone(audio, a, a + quantize(beep_length * sample_rate, Fraction(1)), beep_freq, sample_rate)
    atrack = AudioTrack(audio, sample_rate, codec=audio_codec)
    write_clip(path, fmt, video=track, audio=atrack)
    return Truth(
        **_video_truth(path, fmt, track, [pts(k) * tb for k in range(n)], d, fps=fps), **_audio_truth(atrack),
        flash_times=flash_times, beep_times=tuple(Fraction(a, sample_rate) for a in onsets),
        notes=f"each flash lasts {flash_frames} frame(s); each beep {beep_length} s of {beep_freq} Hz",
    )  # fmt: skip


# ---------------------------------------------------------------- timing problems


def make_vfr_clip(
    path: str | Path,
    segments: Sequence[tuple[Number, Number]] = ((1, 30), (1, 10), (1, 24)),
    *,
    size: tuple[int, int] = SMALL,
    sample_rate: int = 44100,
) -> Truth:
    """Variable frame rate: each ``(seconds, fps)`` segment in turn (.mp4 with a 1/90000 time base, or .mkv).

    ``frame_times`` lists every frame's exact time (``fps`` is None). The first frame of every
    segment after the first is white and a 1 kHz beep starts at the same time (``flash_times``,
    ``beep_times``), so a reader that rebuilds time from ``index / fps`` visibly drifts. A red box
    moves at a constant speed in time. AAC audio, exact (it starts at 0).
    """
    path = Path(path)
    fmt = format_for(path, {".mp4", ".mkv"})
    tb = VIDEO_TIME_BASES[fmt]
    nominal, flashes, start = [], [], Fraction(0)
    for i, (length, fps) in enumerate(segments):
        length, fps = as_fraction(length), as_fraction(fps)
        count = max(1, quantize(length * fps, Fraction(1)))
        if i > 0:
            flashes.append(len(nominal))
        nominal += [start + Fraction(j) / fps for j in range(count)]
        start += count / fps
    pts = [quantize(t, tb) for t in nominal]
    width, height = size
    box = _moving_box(width, height)
    white = _canvas(width, height, _WHITE)
    frames = ((p, white if k in flashes else box(k, p * tb)) for k, p in enumerate(pts))
    track = VideoTrack(width, height, frames, tb, rate=as_fraction(segments[0][1]))
    flash_times = tuple(pts[k] * tb for k in flashes)
    audio = _signal(Fraction(_samples_ceil(start, sample_rate), sample_rate), sample_rate)
    onsets = [quantize(t * sample_rate, Fraction(1)) for t in flash_times]
    for a in onsets:
        _tone(audio, a, a + sample_rate // 20, 1000, sample_rate)
    atrack = AudioTrack(audio, sample_rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    return Truth(
        **_video_truth(path, fmt, track, [p * tb for p in pts], start), **_audio_truth(atrack),
        flash_times=flash_times, beep_times=tuple(Fraction(a, sample_rate) for a in onsets),
        notes="segments (seconds, fps): " + ", ".join(f"({float(a)}, {float(b)})" for a, b in segments),
    )  # fmt: skip


def _samples_ceil(t: Fraction, rate: int) -> int:
    return math.ceil(t * rate)


def _flash_beep_clip(path, fmt, duration, fps, size, events, audio_start, origin=Fraction(0)):
    """H.264 frames from ``origin`` and AAC 44.1 kHz from ``origin + audio_start``, with a flash and
    a beep at each of ``events`` (relative times, whole frames)."""
    tb = VIDEO_TIME_BASES[fmt]
    n = quantize(duration * fps, Fraction(1))
    pts = _cfr(n, fps, tb, origin)
    width, height = size
    box = _moving_box(width, height)
    white = _canvas(width, height, _WHITE)
    flash_k = {quantize(t * fps, Fraction(1)) for t in events}
    track = VideoTrack(
        width, height, ((pts(k), white if k in flash_k else box(k, Fraction(k) / fps)) for k in range(n)), tb, rate=fps, gop=int(fps)
    )
    rate = 44100
    d = Fraction(n) / fps
    audio = _signal(d - audio_start, rate)
    for t in events:
        a = _samples(t - audio_start, rate)
        _tone(audio, a, a + rate // 20, 1000, rate)
    atrack = AudioTrack(audio, rate, start=origin + audio_start, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    flashes = tuple(pts(k) * tb - origin for k in sorted(flash_k))
    return Truth(
        **_video_truth(path, fmt, track, [pts(k) * tb - origin for k in range(n)], d, fps=fps),
        **_audio_truth(atrack, origin), start=origin, flash_times=flashes, beep_times=tuple(events),
    )  # fmt: skip


def make_delayed_audio_clip(path: str | Path, audio_delay: Number = 0.5, duration: Number = 3.0) -> Truth:
    """Audio that starts ``audio_delay`` s after the video (.mkv, H.264 25 fps + AAC 44.1 kHz).

    ``audio_start`` is the delay; a plain PyAV decode's first audio frame has that time exactly.
    Flashes and beeps mark every whole second at or after the delay (``flash_times == beep_times``).
    (MP4 is not offered: with a delayed AAC start its edit list shifts decoded audio by ~1 ms.)
    """
    delay, duration = as_fraction(audio_delay), as_fraction(duration)
    if delay < 0 or (delay * 1000).denominator != 1:
        raise ValueError(f"audio_delay must be a whole number of milliseconds >= 0, got {audio_delay}")
    path = Path(path)
    events = tuple(Fraction(s) for s in range(math.ceil(delay), math.ceil(duration)) if s + Fraction(1, 10) <= duration)
    return _flash_beep_clip(path, format_for(path, {".mkv"}), duration, Fraction(25), SMALL, events, delay)


def make_nonzero_start_clip(path: str | Path, start: Number = 10.0, duration: Number = 3.0) -> Truth:
    """Both streams begin at media time ``start`` (.ts by default, or .mkv), as broadcast captures do.

    ``Truth.start`` is that offset and every other time is relative to it: flashes and beeps at each
    whole second after 0. In .ts the first 1024 decoded audio samples are the AAC encoder's priming
    (near-silence) placed at ``[start, start + 1024 / 44100)``; the content times hold exactly.
    """
    start, duration = as_fraction(start), as_fraction(duration)
    if start < 0 or (start * 1000).denominator != 1:
        raise ValueError(f"start must be a whole number of milliseconds >= 0, got {start}")
    path = Path(path)
    events = tuple(Fraction(s) for s in range(1, math.ceil(duration)) if s + Fraction(1, 10) <= duration)
    return _flash_beep_clip(path, format_for(path, {".ts", ".mkv"}), duration, Fraction(25), SMALL, events, Fraction(0), start)


# ---------------------------------------------------------------- missing streams, single frames


def make_video_only_clip(path: str | Path, duration: Number = 2.0, fps: Number = 25, size: tuple[int, int] = SMALL) -> Truth:
    """No audio track: a red box crossing a dark frame, H.264 in .mkv or .mp4."""
    path, fmt, track, times, d = _clip(path, duration, fps, size, {".mkv", ".mp4"})
    write_clip(path, fmt, video=track)
    return Truth(**_video_truth(path, fmt, track, times, d, fps=as_fraction(fps)))


def make_beep_clip(
    path: str | Path,
    beeps: Sequence[Number] = (0.5, 1.25),
    duration: Number = 2.0,
    *,
    sample_rate: int = 16000,
    length: Number = 0.1,
    freq: float = 1000.0,
    level: float = 0.5,
) -> Truth:
    """Audio only: ``freq`` Hz beeps with sharp onsets at ``beeps`` seconds, digital silence between.

    The format follows the suffix: .wav (PCM), .flac, .ogg/.opus (Opus; ``sample_rate`` 8, 12, 16,
    24 or 48 kHz), .m4a (AAC), .mka (AAC). All decode with exact timing; the lossy ones smear onsets
    by a few ms of pre-echo.
    """
    path = Path(path)
    fmt = format_for(path, {".wav", ".flac", ".ogg", ".opus", ".m4a", ".mka"})
    times = tuple(as_fraction(t) for t in beeps)
    d = as_fraction(duration)
    audio = _signal(Fraction(_samples_ceil(d, sample_rate), sample_rate), sample_rate)
    for t in times:
        a = _samples(t, sample_rate)
        _tone(audio, a, a + quantize(as_fraction(length) * sample_rate, Fraction(1)), freq, sample_rate, level)
    track = AudioTrack(audio, sample_rate, codec=_AUDIO_CODECS[fmt])
    write_clip(path, fmt, audio=track)
    return Truth(path=path, container=fmt, duration=track.start + Fraction(len(audio), sample_rate),
                 **_audio_truth(track), beep_times=times)  # fmt: skip


def make_audio_only_clip(path: str | Path, duration: Number = 2.0, sample_rate: int = 16000) -> Truth:
    """No video track: beeps at a quarter and at three quarters of ``duration`` (suffixes as :func:`make_beep_clip`)."""
    d = as_fraction(duration)
    beeps = (_ms(d / 4), _ms(3 * d / 4))
    return make_beep_clip(path, beeps, d, sample_rate=sample_rate)


def make_silence_clip(path: str | Path, duration: Number = 2.0, sample_rate: int = 16000) -> Truth:
    """Audio only, all samples exactly zero (suffixes as :func:`make_beep_clip`)."""
    return make_beep_clip(path, (), duration, sample_rate=sample_rate)


def make_single_frame_clip(path: str | Path, size: tuple[int, int] = SMALL) -> Truth:
    """One H.264 frame at time 0 (.mkv or .mp4); ``duration`` is that frame's 1/25 s."""
    path, fmt, track, times, d = _clip(path, Fraction(1, 25), 25, size, {".mkv", ".mp4"})
    write_clip(path, fmt, video=track)
    return Truth(**_video_truth(path, fmt, track, times, d, fps=Fraction(25)))


def make_one_pixel_high_clip(path: str | Path, width: int = 64, height: int = 1, frames: int = 10) -> Truth:
    """A ``width`` x ``height`` clip (64x1 by default) at 25 fps in .mkv.

    H.264 in 4:2:0 needs even sizes, so this is lossless FFV1 in yuv444p, which takes any size;
    frame ``k`` is a horizontal grey ramp shifted right by ``k`` pixels.
    """
    ramp = np.linspace(0, 255, width).astype(np.uint8)

    def render(k: int, t: Fraction) -> np.ndarray:
        return np.repeat(np.roll(ramp, k)[None, :, None], 3, axis=2).repeat(height, axis=0)

    path, fmt, track, times, d = _clip(
        path, Fraction(frames, 25), 25, (width, height), {".mkv"}, lambda *a: render, codec="ffv1", pix_fmt="yuv444p", options={}
    )
    write_clip(path, fmt, video=track)
    return Truth(**_video_truth(path, fmt, track, times, d, fps=Fraction(25)), notes="FFV1 yuv444p, lossless")


# ---------------------------------------------------------------- damaged and fake files


def make_truncated_clip(path: str | Path, duration: Number = 4.0, keep: float = 0.6, *, faststart: bool = False) -> Truth:
    """A valid H.264 + AAC clip cut short: only the first ``keep`` of its bytes remain.

    .mkv: about ``keep * duration`` seconds still decode (``decodable_until``, within ~25% of the
    duration: the content has a nearly constant bitrate), then the decoder meets the end of file.
    .mp4: the index (moov) comes last, so nothing decodes (``decodable_until == 0``) unless
    ``faststart`` moves it to the front. ``duration`` is the intact clip's.
    """
    if not 0 < keep < 1:
        raise ValueError(f"keep must be in (0, 1), got {keep}")
    path, fmt, track, times, d = _clip(path, duration, 25, SMALL, {".mkv", ".mp4"}, _noisy_box)
    audio = _signal(d, 44100)
    audio[:] = 0.1 * np.sin(2 * np.pi * 440 * np.arange(len(audio)) / 44100)
    atrack = AudioTrack(audio, 44100, codec="aac")
    options = {"movflags": "+faststart"} if fmt == "mp4" and faststart else None
    write_clip(path, fmt, video=track, audio=atrack, container_options=options)
    with open(path, "r+b") as f:
        f.truncate(int(path.stat().st_size * keep))
    readable = fmt == "matroska" or faststart
    return Truth(
        **_video_truth(path, fmt, track, times, d, fps=Fraction(25)), **_audio_truth(atrack),
        decodable_until=_ms(d * Fraction(keep)) if readable else Fraction(0),
        notes=f"truncated to {keep:.0%} of its bytes",
    )  # fmt: skip


def _noisy_box(width: int, height: int, n: int, fps: Fraction) -> Render:
    """Fresh noise every frame, so each frame costs about the same number of bytes."""
    rng = np.random.default_rng(0)
    box = _moving_box(width, height)

    def render(k: int, t: Fraction) -> np.ndarray:
        img = box(k, t)
        img[: height // 3] = rng.integers(0, 256, (height // 3, width, 3), np.uint8)
        return img

    return render


def make_corrupt_clip(path: str | Path, duration: Number = 6.0, damage: tuple[float, float] = (0.4, 0.6), seed: int = 0) -> Truth:
    """An MPEG-TS clip (H.264 with a keyframe every second + AAC) with garbage inside.

    The bytes from ``damage[0]`` to ``damage[1]`` of the file are overwritten with random bytes.
    The content has a nearly constant bitrate, so ``damaged`` is roughly that fraction of the
    duration (``[0.4 d, 0.6 d)`` by default); expect frames to decode cleanly before it and again
    from the first keyframe after it, i.e. within ~1 s.
    """
    lo, hi = damage
    if not 0 < lo < hi < 1:
        raise ValueError(f"damage must be a span (lo, hi) with 0 < lo < hi < 1, got {damage}")
    # no B-frames: from pts 0 they would give negative DTS, and the TS muxer would shift every stream
    path, fmt, track, times, d = _clip(path, duration, 25, SMALL, {".ts"}, _noisy_box, options={"preset": "veryfast", "bf": "0"})
    rate = 44100
    audio = _signal(d, rate)
    audio[2048:] = 0.1 * np.sin(2 * np.pi * 440 * np.arange(len(audio) - 2048) / rate)
    atrack = AudioTrack(audio, rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    size = path.stat().st_size
    a, b = int(size * lo), int(size * hi)
    with open(path, "r+b") as f:
        f.seek(a)
        f.write(np.random.default_rng(seed).integers(0, 256, b - a, np.uint8).tobytes())
    return Truth(
        **_video_truth(path, fmt, track, times, d, fps=Fraction(25)), **_audio_truth(atrack),
        damaged=((_ms(d * Fraction(lo)), _ms(d * Fraction(hi))),),
        notes=f"bytes [{a}, {b}) of {size} overwritten with random bytes (seed {seed})",
    )  # fmt: skip


def make_not_media(path: str | Path) -> Truth:
    """A plain text file under a media name (any suffix, e.g. ``clip.mp4``)."""
    path = Path(path)
    path.write_text("This is not a video. It is a text file with a media file name.\n" * 20)
    return Truth(path=path, container=None, duration=Fraction(0), notes="plain text, no streams")


# ---------------------------------------------------------------- text


_CUE_TEXTS = ("Hello there.", "A second line, with a comma.", "Ünïcödé — and\ntwo lines.")


def make_subtitled_clip(
    path: str | Path, sidecar: str | None = "srt", embedded: bool = True, duration: Number = 4.0
) -> Truth:
    """Video (H.264, 25 fps) with three subtitle cues at known times.

    ``embedded``: a SubRip stream in .mkv or a mov_text stream in .mp4. ``sidecar``: also write the
    cues with pysubs2 as ``<stem>.srt`` or ``<stem>.vtt`` beside the clip. Cue times are whole
    milliseconds (what SRT and WebVTT store); the third cue holds non-ASCII text and a line break.
    """
    if sidecar not in (None, "srt", "vtt"):
        raise ValueError(f"sidecar must be 'srt', 'vtt' or None, got {sidecar!r}")
    path, fmt, track, times, d = _clip(path, duration, 25, SMALL, {".mkv", ".mp4"})
    slot = d / len(_CUE_TEXTS)
    cues = tuple(Cue(_ms(i * slot + slot / 8), _ms((i + 1) * slot - slot / 8), text) for i, text in enumerate(_CUE_TEXTS))
    codec = ("subrip" if fmt == "matroska" else "mov_text") if embedded else None
    write_clip(path, fmt, video=track, cues=cues if embedded else (), subtitle_codec=codec)
    side = None
    if sidecar is not None:
        side = path.with_suffix("." + sidecar)
        subs = pysubs2.SSAFile()
        for c in cues:
            subs.append(pysubs2.SSAEvent(start=int(c.start * 1000), end=int(c.end * 1000), text=c.text.replace("\n", "\\N")))
        subs.save(str(side), format_=sidecar)
    return Truth(**_video_truth(path, fmt, track, times, d, fps=Fraction(25)), cues=cues,
                 subtitle_codec=_DECODER_NAMES.get(codec, codec) if codec else None, sidecar=side)  # fmt: skip


# ---------------------------------------------------------------- perception


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
            img = _canvas(width, height, (20, 30, 70))
            if k_in <= k < k_out:
                x = -side // 2 + (k - k_in) * (width) // (k_out - k_in)
                _box(img, x, (height - side) // 2, side, side, (240, 220, 30))
            return img

        return render

    path, fmt, track, times, d = _clip(path, duration, fps, size, {".mkv"}, render_for)
    span = (times[k_in], times[k_out] if k_out < len(times) else d)
    write_clip(path, fmt, video=track)
    return Truth(**_video_truth(path, fmt, track, times, d, fps=fps), shape_spans=(span,))


def _scene(width: int, height: int, which: int, t: Fraction) -> np.ndarray:
    """One of three visually unrelated scenes, each with a little motion."""
    shift = int(t * 20)
    if which % 3 == 0:
        img = np.zeros((height, width, 3), np.uint8)
        img[..., 0] = np.linspace(30, 200, width, dtype=np.uint8)[None, :]
        img[..., 2] = 90
        return _disc(img, width / 3 + shift, height / 2, height / 5, (250, 250, 250))
    if which % 3 == 1:
        img = _canvas(width, height, (20, 120, 40))
        img[(np.arange(height) // 10 % 2 == 0)] = (200, 230, 90)
        return _box(img, width - 30 - shift, 10, 24, 24, (120, 0, 160))
    img = _canvas(width, height, (150, 150, 170))
    img[:, np.arange(width) // 16 % 2 == 0] = (60, 20, 20)
    return _box(img, 10 + shift, height - 40, 30, 30, (0, 200, 255))


def make_hard_cut_clip(
    path: str | Path, cuts: Sequence[Number] = (1.0, 2.0), duration: Number = 3.0, size: tuple[int, int] = SMALL
) -> Truth:
    """Unrelated scenes joined by hard cuts at ``cuts`` (moved to frame times), 25 fps H.264 in .mkv."""
    fps = Fraction(25)
    cut_k = sorted(math.ceil(as_fraction(c) * fps) for c in cuts)

    def render_for(width: int, height: int, n: int, fps: Fraction) -> Render:
        return lambda k, t: _scene(width, height, sum(k >= c for c in cut_k), t)

    path, fmt, track, times, d = _clip(path, duration, fps, size, {".mkv"}, render_for)
    if any(not 0 < c < len(times) for c in cut_k):
        raise ValueError(f"cuts must lie inside (0, {float(d)}) s, got {list(cuts)}")
    write_clip(path, fmt, video=track)
    return Truth(**_video_truth(path, fmt, track, times, d, fps=fps), cut_times=tuple(times[c] for c in cut_k))


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
            img = _scene(width, height, 0, t)
            if k0 <= k < k0 + flash_frames:
                img = (img.astype(np.uint16) * 3 // 10 + 178).astype(np.uint8)
            return img

        return render

    path, fmt, track, times, d = _clip(path, duration, fps, size, {".mkv"}, render_for)
    if not (0 < k0 and k0 + flash_frames <= len(times)):
        raise ValueError(f"the flash must fit inside the clip, got flash_at={flash_at}")
    write_clip(path, fmt, video=track)
    return Truth(**_video_truth(path, fmt, track, times, d, fps=fps), flash_times=(times[k0],),
                 notes=f"the flash lasts {flash_frames} frames")  # fmt: skip


# ---------------------------------------------------------------- benchmarks


def make_bench_clip(
    path: str | Path, duration: Number = 60, width: int = 1280, height: int = 720, fps: Number = 30
) -> Truth:
    """A benchmark clip: H.264 (x264 ultrafast, keyframe every 2 s) + AAC 44.1 kHz mono in .mp4.

    Rolling colour gradients, with a hard cut every 10 s (``cut_times``) that swaps the pattern; a
    440 Hz tone sounds during the first half of every second (``tone_spans``). Frames are built
    directly in yuv420p, so 60 s of 720p30 takes a few seconds.
    """
    fps = as_fraction(fps)
    if width % 2 or height % 2:
        raise ValueError(f"H.264 4:2:0 needs an even size, got {width}x{height}")
    yy, xx = np.mgrid[0:height, 0:width]
    planes = [((xx * 2 + yy) % 256).astype(np.uint8), ((yy * 3 - xx) % 256).astype(np.uint8)]
    chroma = [np.full((height // 2, width), c, np.uint8) for c in (100, 170)]
    per_cut = int(10 * fps)

    def render(k: int, t: Fraction) -> np.ndarray:
        scene = (k // per_cut) % 2
        y = np.roll(planes[scene], (k * 4) % width, axis=1)
        return np.concatenate([y, chroma[scene]])

    path, fmt, track, times, d = _clip(
        path, duration, fps, (width, height), {".mp4"}, lambda *a: render, input_format="yuv420p", options={"preset": "ultrafast"}
    )
    track.gop = int(2 * fps)
    rate = 44100
    audio = _signal(Fraction(_samples_ceil(d, rate), rate), rate)
    seconds = int(d)
    for s in range(seconds):
        _tone(audio, s * rate, s * rate + rate // 2, 440, rate, 0.3)
    atrack = AudioTrack(audio, rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    cuts = tuple(times[k] for k in range(per_cut, len(times), per_cut))
    spans = tuple((Fraction(s), s + Fraction(1, 2)) for s in range(seconds))
    return Truth(**_video_truth(path, fmt, track, times, d, fps=fps), **_audio_truth(atrack), cut_times=cuts, tone_spans=spans)


__all__ = [
    "Cue", "Span", "Truth", "make_audio_only_clip", "make_av_sync_clip", "make_beep_clip", "make_bench_clip",
    "make_corrupt_clip", "make_delayed_audio_clip", "make_flash_not_cut_clip", "make_hard_cut_clip",
    "make_nonzero_start_clip", "make_not_media", "make_one_pixel_high_clip", "make_sample_clip", "make_shape_clip",
    "make_silence_clip", "make_single_frame_clip", "make_subtitled_clip", "make_truncated_clip", "make_vfr_clip",
    "make_video_only_clip",
]  # fmt: skip
