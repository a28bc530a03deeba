"""Subtitles: sidecar .srt/.vtt/.ass files (parsed by pysubs2) and embedded text subtitle events."""

from __future__ import annotations

from fractions import Fraction

import pysubs2

from ..decode.payloads import TextSegment
from ..errors import UnsupportedSourceError


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
