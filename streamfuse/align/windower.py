"""Align decoded streams into windows ``[t0, t1)``, synchronised on stream time bounds.

Window ``k`` spans ``[k*hop, k*hop + length)`` in media time. It is emitted once every open stream
has promised that nothing earlier than ``t1`` will come (a frame at or after ``t1``, audio up to
``t1``, a :class:`StreamBound`) or has closed: a source with no audio or no subtitles never stalls
the pipeline. After the last stream closes, windows are emitted until one reaches the end of the
media. Each window holds its frames, exactly the audio samples of ``[t0, t1)`` (zero-filled where
there was none, flagged in ``AudioClip.missing``) and the text segments that overlap it.
"""

from __future__ import annotations

from collections import deque
from fractions import Fraction
from typing import Iterable, Iterator

import numpy as np

from ..decode.demux import Damage, Item, StreamBound, StreamClosed
from ..decode.payloads import AudioClip, TextSegment, Thumbnail, VideoFrame
from ..timebase import SAMPLE_RATE, as_fraction, seconds_to_samples
from .window import Window

STREAMS = ("video", "audio", "text")


class _AudioBuffer:
    """Contiguous-by-index audio kept from ``base`` on, with the spans that hold no real audio."""

    def __init__(self) -> None:
        self.chunks: deque[AudioClip] = deque()
        self.end = 0  # one past the last sample received

    def add(self, clip: AudioClip) -> None:
        if clip.end <= self.end:
            return  # entirely old (overlapping audio after a timestamp jump)
        if clip.start < self.end:
            cut = self.end - clip.start
            clip = AudioClip(self.end, clip.samples[cut:], clip.sample_rate,
                             tuple((max(a, self.end), b) for a, b in clip.missing if b > self.end))
        self.chunks.append(clip)
        self.end = clip.end

    def slice(self, a: int, b: int) -> AudioClip:
        """Samples ``[a, b)``, zero-filled and flagged missing where nothing was received."""
        out = np.zeros(b - a, np.float32)
        have = np.zeros(b - a, bool)
        missing_inside: list[tuple[int, int]] = []
        for c in self.chunks:
            lo, hi = max(a, c.start), min(b, c.end)
            if lo >= hi:
                continue
            out[lo - a: hi - a] = c.samples[lo - c.start: hi - c.start]
            have[lo - a: hi - a] = True
            missing_inside.extend((max(x, lo), min(y, hi)) for x, y in c.missing if max(x, lo) < min(y, hi))
        for x, y in missing_inside:
            have[x - a: y - a] = False
        return AudioClip(a, out, SAMPLE_RATE, _spans(~have, a))

    def drop_before(self, index: int) -> None:
        while self.chunks and self.chunks[0].end <= index:
            self.chunks.popleft()


def _spans(mask: np.ndarray, offset: int) -> tuple[tuple[int, int], ...]:
    """``[a, b)`` runs where ``mask`` is True, shifted by ``offset``."""
    if not mask.any():
        return ()
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return tuple((int(offset + edges[i]), int(offset + edges[i + 1])) for i in range(0, len(edges), 2))


class Windower:
    """Push items in, take complete windows out. Pure Python; no threads, no Ray."""

    def __init__(self, source_id: str, length: float | Fraction = 2, hop: float | Fraction = 1, *,
                 hold_last: bool = True) -> None:
        """``hold_last``: hold each window back until the next one is complete, so that the last can be
        flagged ``final`` (files); live feeds pass False to get every window as soon as it is complete."""
        self.source_id = source_id
        self.hold_last = hold_last
        self.length = as_fraction(length)
        self.hop = as_fraction(hop)
        if not 0 < self.hop <= self.length:
            raise ValueError(f"need 0 < hop <= length, got hop={hop}, length={length}")
        self.bounds: dict[str, Fraction | None] = {s: Fraction(0) for s in STREAMS}  # None = closed
        self.present: set[str] = set()  # streams that delivered data at least once
        self.frames: deque[VideoFrame] = deque()
        self.thumbs: deque[Thumbnail] = deque()
        self.audio = _AudioBuffer()
        self.has_audio_stream = False
        self.segments: list[TextSegment] = []
        self.damage: list[Damage] = []
        self.absent: set[str] = set()  # streams closed before delivering anything
        self.index = 0
        self.media_end = Fraction(0)
        self._pending: Window | None = None  # held back one step so the last can be flagged final
        self._final_sent = False

    # -- input --------------------------------------------------------------------------------

    def push(self, item: Item) -> list[Window]:
        if isinstance(item, VideoFrame):
            self.frames.append(item)
            self.present.add("video")
            self._advance("video", item.time)
            self.media_end = max(self.media_end, item.end)
        elif isinstance(item, Thumbnail):
            self.thumbs.append(item)
            self.present.add("video")
            self._advance("video", item.time)
            self.media_end = max(self.media_end, item.end)
        elif isinstance(item, AudioClip):
            self.has_audio_stream = True
            self.audio.add(item)
            if len(item.samples) > item.missing_samples:
                self.present.add("audio")
            self._advance("audio", item.end_time)
            if item.missing_samples < len(item.samples):
                self.media_end = max(self.media_end, item.end_time)
        elif isinstance(item, TextSegment):
            self.segments.append(item)
            self.present.add("text")
            self.media_end = max(self.media_end, item.end)
        elif isinstance(item, StreamBound):
            self._advance(item.stream, item.time)
        elif isinstance(item, StreamClosed):
            self.bounds[item.stream] = None
            if item.stream not in self.present and not (item.stream == "audio" and self.has_audio_stream):
                self.absent.add(item.stream)
        elif isinstance(item, Damage):
            self.damage.append(item)
        else:
            raise TypeError(f"Windower cannot take {type(item).__name__}")
        return self._ready()

    def close(self) -> list[Window]:
        """End of input: close every stream and emit the remaining windows; the last is final.

        Every stream that produced a window ends with exactly one final window, so encoders flush
        what they hold (an utterance in progress when a live run is stopped). Without ``hold_last``,
        when every window was already emitted, the final one is the (empty) next window."""
        for s in STREAMS:
            self.bounds[s] = None
        out = self._ready()
        if self._pending is not None:
            out.append(self._pending.copy(final=True))
            self._pending = None
        elif self._final_sent:
            pass
        elif out:
            out[-1] = out[-1].copy(final=True)
        elif self.index > 0:
            out.append(self._build(*self._span(self.index)).copy(final=True))
            self.index += 1
        self._final_sent = self._final_sent or bool(out)
        return out

    def feed(self, items: Iterable[Item]) -> Iterator[Window]:
        """All windows of an item stream, in order."""
        for item in items:
            yield from self.push(item)
        yield from self.close()

    # -- windows --------------------------------------------------------------------------------

    def _advance(self, stream: str, t: Fraction) -> None:
        bound = self.bounds[stream]
        if bound is not None and t > bound:
            self.bounds[stream] = t

    def _span(self, k: int) -> tuple[Fraction, Fraction]:
        start = k * self.hop
        return start, start + self.length

    def _ready(self) -> list[Window]:
        out: list[Window] = []
        open_bounds = [b for b in self.bounds.values() if b is not None]
        horizon = min(open_bounds) if open_bounds else None  # None: everything has arrived
        while True:
            start, end = self._span(self.index)
            if horizon is not None:
                if horizon < end:
                    break
            elif start >= self.media_end and not (self.index == 0 and self.media_end == 0 and self._pending is None
                                                  and self.present):
                break
            window = self._build(start, end)
            self.index += 1
            if not self.hold_last:
                out.append(window)
            else:
                if self._pending is not None:
                    out.append(self._pending)
                self._pending = window
            self._forget_before(self._span(self.index)[0])
        return out

    def _build(self, start: Fraction, end: Fraction) -> Window:
        frames = tuple(f for f in self.frames if start <= f.time < end)
        thumbs = tuple(f for f in self.thumbs if start <= f.time < end)
        audio = None
        if self.has_audio_stream or "audio" in self.present:
            audio = self.audio.slice(seconds_to_samples(start), seconds_to_samples(end))
        segments = tuple(s for s in self.segments if s.start < end and (s.end > start or s.end == s.start == start))
        damaged = tuple((d.start, d.end) for d in self.damage if d.start < end and d.end >= start)
        return Window(
            source_id=self.source_id, index=self.index, start=start, end=end,
            own_end=start + self.hop, frames=frames, audio=audio, segments=segments,
            has_video=bool(frames), has_audio=audio is not None and audio.missing_samples < len(audio.samples),
            has_text=bool(segments), damaged=damaged, absent=tuple(s for s in STREAMS if s in self.absent),
            thumbs=thumbs,
        )

    def _forget_before(self, t: Fraction) -> None:
        while self.frames and self.frames[0].time < t:
            self.frames.popleft()
        while self.thumbs and self.thumbs[0].time < t:
            self.thumbs.popleft()
        self.audio.drop_before(seconds_to_samples(t))
        self.segments = [s for s in self.segments if s.end > t or s.start >= t]
        self.damage = [d for d in self.damage if d.end >= t]
