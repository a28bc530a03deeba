"""Tiny media fixtures with known truth, generated in code with PyAV.

Each ``make_*`` function writes one file (its format chosen by the path's suffix, where it offers a
choice) and returns a :class:`~streamfuse.testing.truth.Truth` computed from its own parameters,
never by decoding the file. Times are exact ``Fraction`` seconds. Every generator takes well under a
second except :func:`make_bench_clip`. The perception fixtures (shapes, cuts, flashes) and the
benchmark clip live in :mod:`streamfuse.testing.perception`.

Which combinations decode with exact timing in plain PyAV / FFmpeg (checked by the tests):

- Matroska (``.mkv``) with PCM, FLAC or AAC audio: exact audio; video pts are whole milliseconds,
  so frame times are exact for 25 or 50 fps and rounded to the millisecond for 30 fps.
- MP4 / MOV with a 1/90000 video time base: exact frame times at any common rate; AAC is exact when
  the audio starts at 0 (an edit list trims the priming) but drifts ~1 ms when it starts later, so
  the delayed-audio fixture is Matroska.
- MPEG-TS: exact, but decoders output the AAC priming (1024 samples) as leading audio; the
  writer places it before the content. The TS muxer shifts every stream forward when a DTS would be
  negative (B-frames from pts 0 do that), so the writer encodes TS video without B-frames.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from fractions import Fraction
from pathlib import Path

import numpy as np
import pysubs2

from ..timebase import Number, as_fraction
from ._content import (
    AUDIO_CODECS,
    DARK,
    DECODER_NAMES,
    SMALL,
    WHITE,
    audio_truth,
    canvas,
    cfr_clip,
    cfr_pts,
    fill_box,
    fill_disc,
    moving_box,
    noisy_box,
    samples_at,
    samples_ceil,
    signal,
    tone,
    video_truth,
    whole_ms,
)
from .media_av import VIDEO_TIME_BASES, AudioTrack, VideoTrack, format_for, quantize, write_clip

# every generator can be imported from here too
from .perception import make_bench_clip, make_flash_not_cut_clip, make_hard_cut_clip, make_shape_clip
from .truth import Cue, Truth

__all__ = [
    "Cue", "Truth", "make_audio_only_clip", "make_av_sync_clip", "make_beep_clip", "make_bench_clip",
    "make_corrupt_clip", "make_delayed_audio_clip", "make_flash_not_cut_clip", "make_hard_cut_clip",
    "make_nonzero_start_clip", "make_not_media", "make_one_pixel_high_clip", "make_sample_clip", "make_shape_clip",
    "make_silence_clip", "make_single_frame_clip", "make_subtitled_clip", "make_truncated_clip", "make_vfr_clip",
    "make_video_only_clip",
]  # fmt: skip


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
            img = canvas(width, height, (25, 35, 90))
            img[::24] = (45, 60, 130)
            x = int(k / cut * (width + 40)) - 40
            return fill_box(img, x, 100, 40, 40, (230, 30, 30))
        img = canvas(width, height, (210, 200, 120))
        img[:, ::40] = (60, 150, 60)
        cy = 120 + 80 * math.sin(2 * math.pi * float(t - at(cut)) / 2)
        return fill_disc(img, 160, cy, 24, (30, 60, 220))

    path, fmt, track, times, d = cfr_clip(path, at(n), fps, (width, height), {".mkv"}, lambda *a: render)
    rate = 44100
    audio = signal(d, rate)
    tones = [(n // 8, n // 4), (3 * n // 8, 7 * n // 16), (11 * n // 16, 13 * n // 16)]
    for a, b in tones:
        tone(audio, samples_at(at(a), rate), samples_at(at(b), rate), 440, rate)
    cues = (
        Cue(at(n // 16), at(5 * n // 16), "A red box slides to the right."),
        Cue(at(cut), at(5 * n // 8), "Cut to a new scene."),
        Cue(at(11 * n // 16), at(15 * n // 16), "A blue ball bounces."),
    )
    atrack = AudioTrack(audio, rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack, cues=cues, subtitle_codec="subrip")
    return Truth(
        **video_truth(path, fmt, track, times, d, fps=fps), **audio_truth(atrack),
        cut_times=(at(cut),), tone_spans=tuple((at(a), at(b)) for a, b in tones), cues=cues,
        subtitle_codec=DECODER_NAMES["subrip"],
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
    pts = cfr_pts(n, fps, tb)
    flash_frames_at = []
    k = 0
    beep_samples = quantize(beep_length * sample_rate, Fraction(1))
    while (f := quantize((first + k * period) * fps, Fraction(1))) + flash_frames <= n:
        if pts(f) * tb + Fraction(beep_samples, sample_rate) > Fraction(n) / fps:
            break  # the whole beep must fit
        flash_frames_at.append(f)
        k += 1
    lit = {f + i for f in flash_frames_at for i in range(flash_frames)}
    width, height = size
    dark, white = canvas(width, height, DARK), canvas(width, height, WHITE)
    track = VideoTrack(width, height, ((pts(k), white if k in lit else dark) for k in range(n)), tb, rate=fps)
    d = Fraction(n) / fps
    audio = np.zeros(quantize(d * sample_rate, Fraction(1)), np.float32)
    flash_times = tuple(pts(f) * tb for f in flash_frames_at)
    onsets = [quantize(t * sample_rate, Fraction(1)) for t in flash_times]
    for a in onsets:
        tone(audio, a, a + beep_samples, beep_freq, sample_rate)
    atrack = AudioTrack(audio, sample_rate, codec=audio_codec)
    write_clip(path, fmt, video=track, audio=atrack)
    return Truth(
        **video_truth(path, fmt, track, [pts(k) * tb for k in range(n)], d, fps=fps), **audio_truth(atrack),
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
    box = moving_box(width, height)
    white = canvas(width, height, WHITE)
    frames = ((p, white if k in flashes else box(k, p * tb)) for k, p in enumerate(pts))
    track = VideoTrack(width, height, frames, tb, rate=as_fraction(segments[0][1]))
    flash_times = tuple(pts[k] * tb for k in flashes)
    audio = signal(Fraction(samples_ceil(start, sample_rate), sample_rate), sample_rate)
    onsets = [quantize(t * sample_rate, Fraction(1)) for t in flash_times]
    for a in onsets:
        tone(audio, a, a + sample_rate // 20, 1000, sample_rate)
    atrack = AudioTrack(audio, sample_rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    return Truth(
        **video_truth(path, fmt, track, [p * tb for p in pts], start), **audio_truth(atrack),
        flash_times=flash_times, beep_times=tuple(Fraction(a, sample_rate) for a in onsets),
        notes="segments (seconds, fps): " + ", ".join(f"({float(a)}, {float(b)})" for a, b in segments),
    )  # fmt: skip


def _flash_beep_clip(path, fmt, duration, fps, size, events, audio_start, origin=Fraction(0)):
    """H.264 frames from ``origin`` and AAC 44.1 kHz from ``origin + audio_start``, with a flash and
    a beep at each of ``events`` (relative times, whole frames)."""
    tb = VIDEO_TIME_BASES[fmt]
    n = quantize(duration * fps, Fraction(1))
    pts = cfr_pts(n, fps, tb, origin)
    width, height = size
    box = moving_box(width, height)
    white = canvas(width, height, WHITE)
    flash_k = {quantize(t * fps, Fraction(1)) for t in events}
    track = VideoTrack(
        width, height, ((pts(k), white if k in flash_k else box(k, Fraction(k) / fps)) for k in range(n)), tb, rate=fps, gop=int(fps)
    )
    rate = 44100
    d = Fraction(n) / fps
    audio = signal(d - audio_start, rate)
    for t in events:
        a = samples_at(t - audio_start, rate)
        tone(audio, a, a + rate // 20, 1000, rate)
    atrack = AudioTrack(audio, rate, start=origin + audio_start, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    flashes = tuple(pts(k) * tb - origin for k in sorted(flash_k))
    return Truth(
        **video_truth(path, fmt, track, [pts(k) * tb - origin for k in range(n)], d, fps=fps),
        **audio_truth(atrack, origin), start=origin, flash_times=flashes, beep_times=tuple(events),
    )  # fmt: skip


def make_delayed_audio_clip(path: str | Path, audio_delay: Number = 0.5, duration: Number = 3.0) -> Truth:
    """Audio that starts ``audio_delay`` s after the video (.mkv, H.264 25 fps + AAC 44.1 kHz).

    ``audio_start`` is the delay; a plain PyAV decode's first audio frame has that time exactly.
    Flashes and beeps mark every whole second at or after the delay (``flash_times == beep_times``).
    (MP4 is not offered: with a delayed AAC start its edit list shifts decoded audio by ~1 ms.)
    """
    delay, duration = as_fraction(audio_delay), as_fraction(duration)
    if delay < 0 or (delay * 100).denominator != 1:  # so it falls on a millisecond and on a sample
        raise ValueError(f"audio_delay must be a multiple of 0.01 s and >= 0, got {audio_delay}")
    path = Path(path)
    events = tuple(Fraction(s) for s in range(math.ceil(delay), math.ceil(duration)) if s + Fraction(1, 10) <= duration)
    return _flash_beep_clip(path, format_for(path, {".mkv"}), duration, Fraction(25), SMALL, events, delay)


def make_nonzero_start_clip(path: str | Path, start: Number = 10.0, duration: Number = 3.0) -> Truth:
    """Both streams begin at media time ``start`` (.ts by default, or .mkv), as broadcast captures do.

    ``Truth.start`` is that offset and every other time is relative to it: flashes and beeps at each
    whole second after 0. In .ts the first 1024 decoded audio samples are the AAC encoder's priming
    (near-silence) placed at ``[start, start + 1024 / 44100)``; the content times hold exactly.
    ``start`` may be 0, which makes a plain clip in the given container.
    """
    start, duration = as_fraction(start), as_fraction(duration)
    if start < 0 or (start * 100).denominator != 1:  # so it falls on a millisecond and on a sample
        raise ValueError(f"start must be a multiple of 0.01 s and >= 0, got {start}")
    path = Path(path)
    events = tuple(Fraction(s) for s in range(1, math.ceil(duration)) if s + Fraction(1, 10) <= duration)
    return _flash_beep_clip(path, format_for(path, {".ts", ".mkv"}), duration, Fraction(25), SMALL, events, Fraction(0), start)


# ---------------------------------------------------------------- missing streams, single frames


def make_video_only_clip(path: str | Path, duration: Number = 2.0, fps: Number = 25, size: tuple[int, int] = SMALL) -> Truth:
    """No audio track: a red box crossing a dark frame, H.264 in .mkv or .mp4."""
    path, fmt, track, times, d = cfr_clip(path, duration, fps, size, {".mkv", ".mp4"})
    write_clip(path, fmt, video=track)
    return Truth(**video_truth(path, fmt, track, times, d, fps=as_fraction(fps)))


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

    The format follows the suffix: .wav (PCM), .flac, .ogg/.opus (Opus, always at 48 kHz, the
    only rate Opus decoders output), .m4a (AAC), .mka (AAC). All decode with exact timing; the
    lossy ones smear onsets by a few ms of pre-echo.
    """
    path = Path(path)
    fmt = format_for(path, {".wav", ".flac", ".ogg", ".opus", ".m4a", ".mka"})
    if fmt == "ogg":
        sample_rate = 48000  # Opus decoders output 48 kHz whatever rate went in
    times = tuple(as_fraction(t) for t in beeps)
    d = as_fraction(duration)
    audio = signal(Fraction(samples_ceil(d, sample_rate), sample_rate), sample_rate)
    for t in times:
        a = samples_at(t, sample_rate)
        tone(audio, a, a + quantize(as_fraction(length) * sample_rate, Fraction(1)), freq, sample_rate, level)
    track = AudioTrack(audio, sample_rate, codec=AUDIO_CODECS[fmt])
    write_clip(path, fmt, audio=track)
    return Truth(path=path, container=fmt, duration=track.start + Fraction(len(audio), sample_rate),
                 **audio_truth(track), beep_times=times)  # fmt: skip


def make_audio_only_clip(path: str | Path, duration: Number = 2.0, sample_rate: int = 16000) -> Truth:
    """No video track: beeps at a quarter and at three quarters of ``duration`` (suffixes as :func:`make_beep_clip`)."""
    d = as_fraction(duration)
    beeps = (whole_ms(d / 4), whole_ms(3 * d / 4))
    return make_beep_clip(path, beeps, d, sample_rate=sample_rate)


def make_silence_clip(path: str | Path, duration: Number = 2.0, sample_rate: int = 16000) -> Truth:
    """Audio only, all samples exactly zero (suffixes as :func:`make_beep_clip`)."""
    return make_beep_clip(path, (), duration, sample_rate=sample_rate)


def make_single_frame_clip(path: str | Path, size: tuple[int, int] = SMALL) -> Truth:
    """One H.264 frame at time 0 (.mkv or .mp4); ``duration`` is that frame's 1/25 s."""
    path, fmt, track, times, d = cfr_clip(path, Fraction(1, 25), 25, size, {".mkv", ".mp4"})
    write_clip(path, fmt, video=track)
    return Truth(**video_truth(path, fmt, track, times, d, fps=Fraction(25)))


def make_one_pixel_high_clip(path: str | Path, width: int = 64, height: int = 1, frames: int = 10) -> Truth:
    """A ``width`` x ``height`` clip (64x1 by default) at 25 fps in .mkv.

    H.264 in 4:2:0 needs even sizes, so this is lossless FFV1 in yuv444p, which takes any size;
    frame ``k`` is a horizontal grey ramp shifted right by ``k`` pixels.
    """
    ramp = np.linspace(0, 255, width).astype(np.uint8)

    def render(k: int, t: Fraction) -> np.ndarray:
        return np.repeat(np.roll(ramp, k)[None, :, None], 3, axis=2).repeat(height, axis=0)

    path, fmt, track, times, d = cfr_clip(
        path, Fraction(frames, 25), 25, (width, height), {".mkv"}, lambda *a: render, codec="ffv1", pix_fmt="yuv444p", options={}
    )
    write_clip(path, fmt, video=track)
    return Truth(**video_truth(path, fmt, track, times, d, fps=Fraction(25)), notes="FFV1 yuv444p, lossless")


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
    path, fmt, track, times, d = cfr_clip(path, duration, 25, SMALL, {".mkv", ".mp4"}, noisy_box)
    audio = signal(d, 44100)
    audio[:] = 0.1 * np.sin(2 * np.pi * 440 * np.arange(len(audio)) / 44100)
    atrack = AudioTrack(audio, 44100, codec="aac")
    options = {"movflags": "+faststart"} if fmt == "mp4" and faststart else None
    write_clip(path, fmt, video=track, audio=atrack, container_options=options)
    with open(path, "r+b") as f:
        f.truncate(int(path.stat().st_size * keep))
    readable = fmt == "matroska" or faststart
    return Truth(
        **video_truth(path, fmt, track, times, d, fps=Fraction(25)), **audio_truth(atrack),
        decodable_until=whole_ms(d * Fraction(keep)) if readable else Fraction(0),
        notes=f"truncated to {keep:.0%} of its bytes",
    )  # fmt: skip


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
    path, fmt, track, times, d = cfr_clip(path, duration, 25, SMALL, {".ts"}, noisy_box)
    rate = 44100
    audio = signal(d, rate)  # silent at first, where TS puts the AAC priming
    audio[2048:] = 0.1 * np.sin(2 * np.pi * 440 * np.arange(len(audio) - 2048) / rate)
    atrack = AudioTrack(audio, rate, codec="aac")
    write_clip(path, fmt, video=track, audio=atrack)
    size = path.stat().st_size
    a, b = int(size * lo), int(size * hi)
    with open(path, "r+b") as f:
        f.seek(a)
        f.write(np.random.default_rng(seed).integers(0, 256, b - a, np.uint8).tobytes())
    return Truth(
        **video_truth(path, fmt, track, times, d, fps=Fraction(25)), **audio_truth(atrack),
        damaged=((whole_ms(d * Fraction(lo)), whole_ms(d * Fraction(hi))),),
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
    In .mp4, mov_text also writes an empty 2-byte sample in each gap between cues.
    """
    if sidecar not in (None, "srt", "vtt"):
        raise ValueError(f"sidecar must be 'srt', 'vtt' or None, got {sidecar!r}")
    path, fmt, track, times, d = cfr_clip(path, duration, 25, SMALL, {".mkv", ".mp4"})
    slot = d / len(_CUE_TEXTS)
    cues = tuple(Cue(whole_ms(i * slot + slot / 8), whole_ms((i + 1) * slot - slot / 8), text) for i, text in enumerate(_CUE_TEXTS))
    codec = ("subrip" if fmt == "matroska" else "mov_text") if embedded else None
    write_clip(path, fmt, video=track, cues=cues if embedded else (), subtitle_codec=codec)
    side = None
    if sidecar is not None:
        side = path.with_suffix("." + sidecar)
        subs = pysubs2.SSAFile()
        for c in cues:
            subs.append(pysubs2.SSAEvent(start=int(c.start * 1000), end=int(c.end * 1000), text=c.text.replace("\n", "\\N")))
        subs.save(str(side), format_=sidecar)
    return Truth(**video_truth(path, fmt, track, times, d, fps=Fraction(25)), cues=cues,
                 subtitle_codec=DECODER_NAMES.get(codec, codec) if codec else None, sidecar=side)  # fmt: skip
