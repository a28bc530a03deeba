"""Keyword spotting in transcripts: case- and punctuation-insensitive phrase matching."""

from __future__ import annotations

import re
import unicodedata
from fractions import Fraction
from typing import Sequence


def normalise(text: str) -> list[str]:
    """Lower-case words with punctuation removed (apostrophes inside words kept)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = re.sub(r"[^\w\s']+", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def find_phrases(phrases: Sequence[str], text: str,
                 words: Sequence[tuple[Fraction, Fraction, str]] = ()) -> list[tuple[str, int, int]]:
    """Occurrences of each phrase in ``text`` as ``(phrase, first_word, last_word_exclusive)``
    indices into the normalised word list (of ``words`` when word timings are given)."""
    tokens = [t for w in words for t in normalise(w[2])] if words else normalise(text)
    found = []
    for phrase in phrases:
        target = normalise(phrase)
        if not target:
            continue
        n = len(target)
        for i in range(len(tokens) - n + 1):
            if tokens[i:i + n] == target:
                found.append((phrase, i, i + n))
    return found


def word_index_times(words: Sequence[tuple[Fraction, Fraction, str]]) -> list[tuple[Fraction, Fraction]]:
    """Times of each normalised token of ``words`` (a word with punctuation may give several)."""
    out = []
    for start, end, word in words:
        out.extend((start, end) for _ in normalise(word))
    return out
