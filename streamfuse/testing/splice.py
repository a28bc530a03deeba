"""Spliced real footage: shots of recorded clips joined at known times, re-encoded as one clip.

Every join is a hard cut whose time is known exactly, so real pictures (people, rooms, streets)
get cut-detection truth without labelling by hand. Single white or brightened frames and fades
to black and back can be put inside shots: they are what a cut detector must *not* report.

    shots = [Shot("asl/again.mkv", 0, 2.4), Shot("scenes/classroom.gif", 0, 2.9)]
    truth = make_spliced_clip("splice.mp4", shots, fps=25, size=(640, 360), flashes=[1.2])
    truth.cut_times   # (Fraction(12, 5),): the first frame of the classroom shot
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from ..timebase import Number, as_fraction
from ._content import DECODER_NAMES, audio_truth
from .media_av import VIDEO_TIME_BASES, AudioTrack, VideoTrack, format_for, quantize, write_clip
from .truth import Truth

#: container suffix -> default (video codec, audio codec)
_CODECS = {".mp4": ("libx264", "aac"), ".mkv": ("libx264", "aac"), ".mov": ("libx264", "aac")}
#: encoder options that keep encoding fast, the picture close to the source and the output the same
#: on every run (libvpx's "realtime" deadline adapts to the time it is given, so its output varies)
_OPTIONS = {"libx264": {"preset": "veryfast", "crf": "20"},
            "libvpx": {"deadline": "good", "cpu-used": "5", "b": "2M", "crf": "10"},
            "libvpx-vp9": {"deadline": "good", "cpu-used": "5", "b": "2M", "crf": "30", "row-mt": "1"},
            "mpeg4": {"qscale": "3"}}  # fmt: skip
_AUDIO_RATE = 48000
#: frames a flash must keep from a cut, so it sits clearly inside one shot
_MARGIN = 2


@dataclass(frozen=True)
class Shot:
    """``length`` seconds of the video in ``path`` from ``start`` (seconds after its first frame)."""

    path: Path | str
    start: Number = 0
    length: Number = 2


def make_spliced_clip(
    path: str | Path,
    shots: Sequence[Shot],
    *,
    fps: Number = 25,
    size: tuple[int, int] = (640, 360),
    codec: str | None = None,
    audio_codec: str | None = None,
    audio: bool = True,
    flashes: Sequence[Number] = (),
    bright: Sequence[Number] = (),
    fades: Sequence[tuple[Number, Number]] = (),
) -> Truth:
    """Join ``shots`` into one constant-rate clip at ``path`` (.mp4, .mkv or .mov).

    Each shot lasts ``round(length * fps)`` frames and starts where the previous one ends; its
    pictures are the source's frames shown at the shot's own times (a source at another rate has
    frames repeated or dropped), scaled to fit ``size`` and padded with black bars. ``cut_times``
    are the exact times of the first frame of every shot after the first.

    ``flashes`` (pure white) and ``bright`` (the picture washed out, as by a camera flash) are
    times, moved to the nearest frame, of single replaced frames; ``flash_times`` holds both kinds.
    ``fades`` are ``(start, length)`` pairs: the picture dims to black and comes back over
    ``length`` seconds (``fade_spans``). Both must lie inside one shot, at least two frames from
    a cut: a ``ValueError`` says which does not.

    With ``audio``, a mono track (48 kHz) holds each shot's own sound from the same start (counted
    from the source's first audio sample), or silence for a shot whose source has none. Codecs:
    ``codec`` (libx264 by default; libvpx, libvpx-vp9, mpeg4 in .mkv) and ``audio_codec`` (aac by
    default, libopus in .mkv). On one core x264 takes about 5-20 ms a 720p frame, libvpx (VP8)
    about 40 ms a 480p frame; the benchmarks cache what they build.
    """
    path = Path(path)
    fmt = format_for(path, set(_CODECS))
    codec = codec or _CODECS[path.suffix.lower()][0]
    audio_codec = audio_codec or _CODECS[path.suffix.lower()][1]
    fps = as_fraction(fps)
    if not shots:
        raise ValueError("a splice needs at least one shot")
    if size[0] % 2 or size[1] % 2:
        raise ValueError(f"4:2:0 video needs an even size, got {size[0]}x{size[1]}")
    counts = [quantize(as_fraction(s.length) * fps, Fraction(1)) for s in shots]
    if min(counts) < 2 * _MARGIN + 1:
        raise ValueError(f"every shot must last at least {2 * _MARGIN + 1} frames at {fps} fps")
    firsts = [sum(counts[:i]) for i in range(len(shots))]  # index of each shot's first frame
    n = sum(counts)
    tb = VIDEO_TIME_BASES[fmt]
    times = [quantize(Fraction(k) / fps, tb) * tb for k in range(n)]
    duration = Fraction(n) / fps

    def inside(k0: int, k1: int, what: str) -> None:
        """Frames [k0, k1) lie in one shot, ``_MARGIN`` frames from its ends."""
        for a, c in zip(firsts, counts):
            if a + _MARGIN <= k0 and k1 <= a + c - _MARGIN:
                return
        raise ValueError(f"{what} must lie inside one shot, at least {_MARGIN} frames from a cut")

    white_k = {quantize(as_fraction(t) * fps, Fraction(1)) for t in flashes}
    bright_k = {quantize(as_fraction(t) * fps, Fraction(1)) for t in bright}
    for k in sorted(white_k | bright_k):
        inside(k, k + 1, f"the flash at {float(Fraction(k) / fps):.3f} s")
    fade_k = []
    for start, length in fades:
        k0 = quantize(as_fraction(start) * fps, Fraction(1))
        k1 = k0 + max(3, quantize(as_fraction(length) * fps, Fraction(1)))
        inside(k0, k1, f"the fade at {float(as_fraction(start)):.3f} s")
        fade_k.append((k0, k1))

    def frames() -> Iterator[tuple[int, np.ndarray]]:
        k = 0
        for shot, count in zip(shots, counts):
            for image in _shot_pictures(shot, count, fps, size):
                if k in white_k:
                    image = np.full_like(image, 255)
                elif k in bright_k:
                    image = (image.astype(np.uint16) * 3 // 10 + 178).astype(np.uint8)
                for k0, k1 in fade_k:
                    if k0 <= k < k1:
                        gain = abs(1 - 2 * (k - k0) / (k1 - k0 - 1))  # 1 at both ends, 0 (black) in the middle
                        image = (image * gain).astype(np.uint8)
                yield quantize(Fraction(k) / fps, tb), image
                k += 1

    gop = math.ceil(2 * fps)
    track = VideoTrack(size[0], size[1], frames(), tb, rate=fps, codec=codec, gop=gop,
                       options=dict(_OPTIONS.get(codec, {})))
    sound = None
    if audio:
        per_frame = Fraction(_AUDIO_RATE) / fps
        if per_frame.denominator != 1:
            raise ValueError(f"{fps} fps does not divide {_AUDIO_RATE} Hz into whole samples")
        sound = AudioTrack(np.concatenate([_shot_sound(s, int(c * per_frame)) for s, c in zip(shots, counts)]),
                           _AUDIO_RATE, codec=audio_codec)
    write_clip(path, fmt, video=track, audio=sound)
    notes = "; ".join(f"{float(times[a]):.3f} s: {Path(s.path).name} from {float(as_fraction(s.start)):g} s"
                      for s, a in zip(shots, firsts))
    return Truth(
        path=path, container=fmt, duration=duration, video_codec=DECODER_NAMES.get(codec, codec),
        width=size[0], height=size[1], fps=fps, frame_times=tuple(times),
        **(audio_truth(sound) if sound is not None else {}),
        cut_times=tuple(times[a] for a in firsts[1:]),
        flash_times=tuple(times[k] for k in sorted(white_k | bright_k)),
        fade_spans=tuple((times[a], times[b] if b < n else duration) for a, b in fade_k),
        notes=notes,
    )  # fmt: skip


def _fit(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """``image`` scaled to fit inside ``size`` (aspect kept), centred on black."""
    width, height = size
    h, w = image.shape[:2]
    scale = min(width / w, height / h)
    sw, sh = max(1, round(w * scale)), max(1, round(h * scale))
    scaled = cv2.resize(image, (sw, sh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((height, width, 3), np.uint8)
    y, x = (height - sh) // 2, (width - sw) // 2
    out[y : y + sh, x : x + sw] = scaled
    return out


def _shot_pictures(shot: Shot, count: int, fps: Fraction, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """The ``count`` pictures of one shot: the source frame on screen at ``start + j / fps``."""
    start = as_fraction(shot.start)
    with av.open(str(shot.path)) as container:
        if not container.streams.video:
            raise ValueError(f"{Path(shot.path).name} has no video")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        step = 1 / Fraction(stream.average_rate) if stream.average_rate else Fraction(1, 25)
        decoded = (f for f in container.decode(stream) if f.pts is not None)
        first = None
        shown = ahead = None  # (time, frame) on screen, and the next one decoded
        picture = None
        for j in range(count):
            t = start + Fraction(j) / fps
            while True:
                if ahead is None:
                    frame = next(decoded, None)
                    if frame is None:
                        break
                    first = frame.pts * frame.time_base if first is None else first
                    ahead = (frame.pts * frame.time_base - first, frame)
                if ahead[0] > t:
                    break
                shown, ahead, picture = ahead, None, None
            if shown is None or (ahead is None and t >= shown[0] + step):
                raise ValueError(f"{Path(shot.path).name} has no frame at {float(t):.3f} s "
                                 f"(shot of {count} frames from {float(start):g} s)")
            if picture is None:
                picture = _fit(shown[1].to_ndarray(format="rgb24"), size)
            yield picture.copy()


def _shot_sound(shot: Shot, samples: int) -> np.ndarray:
    """``samples`` of the source's sound (mono, 48 kHz) from the shot's start; silence where it has none."""
    out = np.zeros(samples, np.float32)
    with av.open(str(shot.path)) as container:
        if not container.streams.audio:
            return out
        resampler = av.AudioResampler(format="flt", layout="mono", rate=_AUDIO_RATE)
        skip = quantize(as_fraction(shot.start) * _AUDIO_RATE, Fraction(1))
        got = 0
        for frame in container.decode(container.streams.audio[0]):
            for chunk in resampler.resample(frame):
                data = np.frombuffer(chunk.planes[0], np.float32, count=chunk.samples)
                take = data[min(skip, len(data)):]
                skip = max(0, skip - len(data))
                take = take[: samples - got]
                out[got : got + len(take)] = take
                got += len(take)
            if got >= samples:
                break
    return out
