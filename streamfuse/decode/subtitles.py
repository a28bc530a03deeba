"""Subtitles as timed text: sidecar .srt/.vtt/.ass files (parsed by pysubs2) and the packets of an
embedded text subtitle stream, both turned into :class:`~streamfuse.decode.payloads.TextSegment`
values in media time (half-open ``[start, end)``, Fraction seconds)."""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator

import av
import pysubs2

from ..errors import UnsupportedSourceError
from .payloads import TextSegment

#: codecs of embedded subtitle streams that carry text (bitmap subtitles are not read)
TEXT_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text", "microdvd", "subviewer"})
#: an embedded cue without a duration is shown this long
_DEFAULT_CUE = Fraction(2)


def plain_text(ass_or_text: str) -> str:
    """Subtitle markup (ASS override tags, ``\\N``, HTML-ish tags) as one line of plain text."""
    text = pysubs2.SSAEvent(text=ass_or_text).plaintext
    return " ".join(text.replace("<i>", "").replace("</i>", "").replace("<b>", "").replace("</b>", "").split())


def ass_dialogue_text(rect_ass: str) -> str:
    """The text field of FFmpeg's decoded ASS event: ``ReadOrder,Layer,Style,Name,MarginL,
    MarginR,MarginV,Effect,Text``."""
    parts = rect_ass.split(",", 8)
    return plain_text(parts[8] if len(parts) == 9 else rect_ass)


def read_sidecar(path: str, offset: Fraction = Fraction(0)) -> list[TextSegment]:
    """Cues of a subtitle file as text segments in media time (``offset`` is subtracted)."""
    try:
        subs = pysubs2.load(path)
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


def _text(raw: str | bytes) -> str:
    return raw.decode() if isinstance(raw, bytes) else raw


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
