"""Decoded audio on one sample clock: resampled to 16 kHz mono float and handed on in clips.

:class:`AudioClock` keeps an integer sample index (``SAMPLE_RATE`` samples per second of media
time). Each decoded frame is placed by its timestamp; a frame whose time differs from the running
clock by more than ``_AUDIO_JITTER`` marks a gap (zero-filled and flagged ``missing``) or an
overlap (the clock does not go back). Audio before the media origin is cut off. Output is handed
on in :class:`~streamfuse.decode.payloads.AudioClip` values of at least ``_AUDIO_CHUNK`` samples.
"""

from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Iterable, Iterator

import av
import numpy as np

from ..timebase import SAMPLE_RATE, seconds_to_samples
from .payloads import AudioClip

if TYPE_CHECKING:
    from .demux import DemuxReport

#: an audio frame whose time differs from the running sample clock by more than this is a gap/overlap
_AUDIO_JITTER = Fraction(1, 50)
#: decoded audio is handed on in clips of at least this many samples (0.1 s at 16 kHz; an AAC
#: frame is 1024 samples at the source rate, so this is ~5x fewer items to align)
_AUDIO_CHUNK = SAMPLE_RATE // 10
#: a gap is filled with zeros in clips of at most this many samples (60 s), so that a long one costs
#: no more memory than a minute of audio
_MAX_GAP_CLIP = 60 * SAMPLE_RATE


class FrameRejected(ValueError):
    """A decoded frame the clock could not take; its span was handed on as missing audio."""


class AudioClock:
    """Turns the decoded frames of audio ``stream`` into clips on the 16 kHz sample clock, in media
    time from ``origin``. ``end`` is the media time one past the last sample handed on."""

    def __init__(self, stream: av.AudioStream, origin: Fraction, report: DemuxReport) -> None:
        self.stream = stream
        self.origin = origin
        self.report = report
        report.streams.append("audio")
        report.audio_codec = stream.codec_context.name
        self.resampler: av.AudioResampler | None = None
        self.clock: int | None = None  # next output sample index
        self.in_time: Fraction | None = None  # expected time of the next input frame
        self.end = Fraction(0)
        self.pending: list[np.ndarray] = []  # resampled audio not yet handed on, contiguous from pending_start
        self.pending_start = 0
        self.layout: tuple[str, str, int] | None = None  # (format, channel layout, rate) the resampler takes

    def items(self, frame: av.AudioFrame) -> Iterator[AudioClip]:
        """The clips that one decoded ``frame`` completes (often none: they are gathered)."""
        if frame.pts is None:
            t = self.in_time if self.in_time is not None else Fraction(0)
        else:
            t = frame.pts * frame.time_base - self.origin
        frame_dur = Fraction(frame.samples, frame.sample_rate)
        if self.in_time is not None and abs(t - self.in_time) > _AUDIO_JITTER:
            # a gap (or overlap): drain the resampler, then restart the clock at t
            yield from self._drain()
            self.resampler = None
            start = seconds_to_samples(t)
            clock = self.clock
            for a in range(clock, start, _MAX_GAP_CLIP) if clock is not None else ():  # in bounded pieces
                b = min(start, a + _MAX_GAP_CLIP)
                yield AudioClip(a, np.zeros(b - a, np.float32), missing=((a, b),))
            self.clock = max(start, clock or 0) if clock is not None else start
        self.in_time = t + frame_dur
        if self.clock is None:
            self.clock = seconds_to_samples(t)
        layout = (frame.format.name, frame.layout.name, frame.sample_rate)
        if self.resampler is not None and layout != self.layout:
            # the stream changed format, channels or rate mid-way: drain, then resample anew
            yield from self._drain()
            self.resampler = None
        if self.resampler is None:
            self.resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            self.layout = layout
        frame.pts = None  # the sample clock above is the timing; let the resampler not second-guess it
        try:
            out = self.resampler.resample(frame)
        except (av.error.FFmpegError, ValueError) as exc:
            # a layout FFmpeg cannot mix down (channels without positions, ...): the frame's span is
            # missing audio, the clock goes on, and the next frame gets a new resampler
            self.resampler = None
            yield from self._emit((), flush=True)
            n = seconds_to_samples(frame_dur)
            yield AudioClip(self.clock, np.zeros(n, np.float32), missing=((self.clock, self.clock + n),) if n else ())
            self.clock += n
            raise FrameRejected(f"could not be mixed down ({frame.layout.name}: {exc})") from None
        yield from self._emit(out)

    def flush(self) -> Iterator[AudioClip]:
        """End of stream: what the resampler still holds, and every gathered sample."""
        yield from self._drain()

    def _drain(self) -> Iterator[AudioClip]:
        yield from self._emit(self.resampler.resample(None) if self.resampler is not None else (), flush=True)

    def _emit(self, frames: Iterable[av.AudioFrame], flush: bool = False) -> Iterator[AudioClip]:
        pending = self.pending
        for out in frames:
            # packed float mono: the first plane holds exactly the samples (no copy)
            samples = np.frombuffer(out.planes[0], np.float32, count=out.samples)
            start = self.clock
            self.clock += len(samples)
            if self.clock <= 0:
                continue
            if start < 0:  # audio before the origin
                samples, start = samples[-start:], 0
            self.report.audio_samples += len(samples)
            self.end = max(self.end, Fraction(self.clock, SAMPLE_RATE))
            if not pending:
                self.pending_start = start
            pending.append(samples)
        # handed on in clips of at least _AUDIO_CHUNK samples: fewer, larger items downstream
        if pending and (flush or self.clock - self.pending_start >= _AUDIO_CHUNK):
            clip = AudioClip(self.pending_start, np.concatenate(pending))
            pending.clear()
            yield clip
