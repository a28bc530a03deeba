"""Subtitles as timed text: sidecar .srt/.vtt/.ass files (parsed by pysubs2) and the packets of an
embedded text subtitle stream, both turned into :class:`~streamfuse.decode.payloads.TextSegment`
values in media time (half-open ``[start, end)``, Fraction seconds)."""

from __future__ import annotations

import math
import os
import re
from fractions import Fraction
from typing import Iterator

import av
import pysubs2

from ..errors import UnsupportedSourceError
from .payloads import TextSegment

#: codecs of embedded subtitle streams that carry text (bitmap subtitles are not read)
TEXT_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text", "microdvd", "subviewer"})
#: an HTML-ish tag in subtitle text (``<i>``, ``</font>``), as pysubs2 strips them
_HTML_TAG = re.compile(r"< */? *[a-zA-Z][^>]*>")
#: an embedded cue without a duration is shown this long
_DEFAULT_CUE = Fraction(2)
#: subtitles people read show at most a few cues a second (word-by-word karaoke tracks about five);
#: past this many per second of media a track is a flood, and the cues past the cap are dropped
MAX_CUES_PER_SECOND = 10
#: ... but a track may always hold this many cues, however short the media
MIN_CUE_CAP = 100
#: a closing cue may outlast the picture by this much (credits); a longer one is cut there
CUE_OVERHANG = Fraction(5)
#: sidecar files larger than this are not read (real tracks are well under 2 MB; parsing costs
#: about 100 bytes of memory and 50 microseconds per byte-sized cue)
MAX_SIDECAR_BYTES = 8 << 20


def plain_text(ass_or_text: str) -> str:
    """Subtitle markup (ASS override tags, ``\\N``, HTML-ish tags) as one line of plain text."""
    text = _HTML_TAG.sub("", pysubs2.SSAEvent(text=ass_or_text).plaintext)
    return " ".join(text.split())


def ass_dialogue_text(rect_ass: str) -> str:
    """The text field of FFmpeg's decoded ASS event: ``ReadOrder,Layer,Style,Name,MarginL,
    MarginR,MarginV,Effect,Text``."""
    parts = rect_ass.split(",", 8)
    return plain_text(parts[8] if len(parts) == 9 else rect_ass)


def read_sidecar(path: str, offset: Fraction = Fraction(0)) -> list[TextSegment]:
    """Cues of a subtitle file as text segments in media time (``offset`` is subtracted), sorted
    by start. A file over :data:`MAX_SIDECAR_BYTES` is refused before it is read."""
    try:
        size = os.path.getsize(path)
    except OSError:
        size = 0  # reported by the load below
    if size > MAX_SIDECAR_BYTES:
        raise UnsupportedSourceError(f"{path}: a subtitle file of {size / (1 << 20):.1f} MB; at most "
                                     f"{MAX_SIDECAR_BYTES >> 20} MB are read (subtitle tracks are rarely over 2 MB)")
    try:
        # tags are stripped by plain_text; converting them to ASS first would double the parsing cost
        subs = pysubs2.load(path, keep_html_tags=True)
    except (pysubs2.exceptions.Pysubs2Error, UnicodeDecodeError, ValueError, OSError) as exc:
        raise UnsupportedSourceError(f"{path}: cannot read subtitles ({exc.__class__.__name__}); "
                                     "use a valid .srt, .vtt or .ass file") from None
    segments = []
    for ev in subs:
        if ev.is_comment:
            continue
        text = plain_text(ev.text)
        if not text:
            continue
        start = Fraction(ev.start, 1000) - offset
        end = Fraction(ev.end, 1000) - offset
        if end <= 0:
            continue
        segments.append(TextSegment(max(start, Fraction(0)), max(end, start), text, "subtitle"))
    segments.sort(key=lambda s: (s.start, s.end))
    return segments


class CueLimit:
    """Admits subtitle cues that fall inside the media, at most a cap, before they reach the aligner.

    ``duration`` is the media's (None when the container does not say). Cues starting at or after
    it are dropped (they would only stretch the analysis past the media), ends are cut to at most
    :data:`CUE_OVERHANG` past it, and at most ``max(MIN_CUE_CAP, MAX_CUES_PER_SECOND * duration)``
    cues are kept (without a duration: per second of media up to the cue). :meth:`warnings` says
    what was dropped. Constant work per cue."""

    def __init__(self, duration: Fraction | None) -> None:
        self.duration = duration
        self.kept = self.outside = self.flooded = 0

    def _cap(self, seg: TextSegment) -> int:
        span = self.duration if self.duration is not None else seg.end
        return max(MIN_CUE_CAP, math.ceil(MAX_CUES_PER_SECOND * span))

    def admit(self, seg: TextSegment) -> TextSegment | None:
        """``seg`` as it goes on (its end cut if needed), or None when it is dropped."""
        if self.duration is not None:
            if seg.start >= self.duration:
                self.outside += 1
                return None
            if seg.end > self.duration + CUE_OVERHANG:
                seg = TextSegment(seg.start, self.duration + CUE_OVERHANG, seg.text, seg.origin, seg.words)
        if self.kept >= self._cap(seg):
            self.flooded += 1
            return None
        self.kept += 1
        return seg

    def warnings(self) -> list[str]:
        out = []
        if self.outside:
            out.append(f"{self.outside} subtitle cue(s) start after the media ends ({float(self.duration):.2f} s) "
                       "and were ignored")
        if self.flooded:
            total = self.kept + self.flooded
            out.append(f"subtitles: kept {self.kept} of {total} cues; more than {MAX_CUES_PER_SECOND} a second of "
                       "media is a flood, not subtitles, and the rest were dropped")
        return out


def _text(raw: str | bytes) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw


def packet_segments(packet: av.Packet, origin: Fraction) -> Iterator[TextSegment]:
    """The cues of one embedded subtitle packet, in media time (``origin`` is subtracted). A packet
    without a timestamp, one that does not decode, or one that ends before the media starts gives
    nothing."""
    if packet.pts is None:
        return
    start = packet.pts * packet.time_base - origin
    end = start + (packet.duration * packet.time_base if packet.duration else _DEFAULT_CUE)
    try:
        decoded = packet.decode()
    except av.error.FFmpegError:
        return
    for sub in decoded:
        texts = []
        for rect in getattr(sub, "rects", None) or [sub]:
            ass = getattr(rect, "ass", None)
            if ass:
                texts.append(ass_dialogue_text(_text(ass)))
            elif getattr(rect, "text", None):
                texts.append(plain_text(_text(rect.text)))
        text = " ".join(t for t in texts if t)
        if text and end > 0:
            yield TextSegment(max(start, Fraction(0)), end, text, "subtitle")
