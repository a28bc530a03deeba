"""Build :class:`~streamfuse.align.window.Window` values directly, the way the pipeline slices a source.

For testing a stage without a decoder or an aligner: window ``k`` spans ``[k * hop, k * hop + length)``
and owns ``[k * hop, (k + 1) * hop)``; windows are made while their start lies before the end of the
data, and the last one is ``final``. Times are exact: ``hop`` and ``length`` go through
:func:`~streamfuse.timebase.as_fraction`, and sample indices through
:func:`~streamfuse.timebase.seconds_to_samples`.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..align.window import Window
from ..decode.payloads import AudioClip, VideoFrame
from ..timebase import SAMPLE_RATE, Number, as_fraction, samples_to_seconds, seconds_to_samples


def window_spans(duration: Number, length: Number = 2.0,
                 hop: Number = 1.0) -> Iterator[tuple[Fraction, Fraction, Fraction]]:
    """``(start, own_end, end)`` of each window over ``[0, duration)``; at least one window."""
    length, hop, duration = as_fraction(length), as_fraction(hop), as_fraction(duration)
    if not 0 < hop <= length:
        raise ValueError(f"need 0 < hop <= length, got hop={hop} length={length}")
    k = 0
    while True:
        start = k * hop
        yield start, start + hop, start + length
        k += 1
        if k * hop >= duration:
            return


def windows_from_audio(samples: np.ndarray, length: Number = 2.0, hop: Number = 1.0, source_id: str = "test",
                       missing: Sequence[tuple[int, int]] = ()) -> list[Window]:
    """Overlapping windows over mono 16 kHz ``samples`` (index 0 is the source's start).

    Each window's :class:`AudioClip` holds exactly the samples of ``[start, end)``; the part past the
    end of ``samples`` is zero-filled and listed in ``missing``, as the pipeline pads it. ``missing``
    adds spans ``[a, b)`` of absolute sample indices to mark as padding (a delayed start, a gap); their
    samples are zeroed.
    """
    data = np.asarray(samples, dtype=np.float32).reshape(-1).copy()
    for a, b in missing:
        data[max(a, 0):max(b, 0)] = 0.0
    total = len(data)
    spans = list(window_spans(samples_to_seconds(total), length, hop))
    out = []
    for k, (start, own_end, end) in enumerate(spans):
        s0, s1 = seconds_to_samples(start), seconds_to_samples(end)
        clip = np.zeros(s1 - s0, dtype=np.float32)
        real = data[s0:min(s1, total)]
        clip[:len(real)] = real
        holes = [(max(a, s0), min(b, s1)) for a, b in missing if max(a, s0) < min(b, s1)]
        if s1 > total:
            holes.append((max(total, s0), s1))
        audio = AudioClip(start=s0, samples=clip, sample_rate=SAMPLE_RATE, missing=_merge(holes))
        out.append(Window(source_id=source_id, index=k, start=start, end=end, own_end=own_end, audio=audio,
                          has_audio=True, final=k == len(spans) - 1))
    return out


def windows_from_frames(frames: Iterable[tuple[Number, np.ndarray]], length: Number = 2.0, hop: Number = 1.0,
                        source_id: str = "test", duration: Number | None = None) -> list[Window]:
    """Overlapping windows over ``(time, image)`` pairs (RGB ``H x W x 3`` uint8, times in seconds).

    Frames must be in time order. A frame lasts until the next one; the last lasts as long as the one
    before it (1/25 s when there is only one). ``duration`` is the source's length (default: the end of
    the last frame). Each frame carries ``pts = time.numerator`` with ``time_base = 1/time.denominator``,
    so its time is exact.
    """
    timed = [(as_fraction(t), image) for t, image in frames]
    times = [t for t, _ in timed]
    if any(b <= a for a, b in zip(times, times[1:])):
        raise ValueError("frame times must increase")
    made = []
    for i, (t, image) in enumerate(timed):
        if i + 1 < len(timed):
            dur = times[i + 1] - t
        else:
            dur = t - times[i - 1] if i > 0 else Fraction(1, 25)
        made.append(VideoFrame(pts=t.numerator, time_base=Fraction(1, t.denominator), time=t, duration=dur,
                               image=np.asarray(image)))
    end = as_fraction(duration) if duration is not None else (made[-1].end if made else Fraction(0))
    spans = list(window_spans(end, length, hop))
    return [Window(source_id=source_id, index=k, start=start, end=stop, own_end=own_end,
                   frames=tuple(f for f in made if start <= f.time < stop), has_video=True,
                   final=k == len(spans) - 1)
            for k, (start, own_end, stop) in enumerate(spans)]


def _merge(spans: list[tuple[int, int]]) -> tuple[tuple[int, int], ...]:
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return tuple(out)
