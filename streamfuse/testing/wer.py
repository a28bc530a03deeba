"""Word error rate for checking transcripts (no installed library offers it; jiwer is not a dependency).

Both texts are normalised the same way before comparing: lower case, punctuation dropped (an
apostrophe inside a word is kept), letters and digits split apart (``F2`` -> ``f 2``), and the
number words zero to twenty written as digits, so ``"F2"`` and ``"f two"`` agree.
"""

from __future__ import annotations

import re

_NUMBERS = {w: str(i) for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen twenty".split())}


def normalize_words(text: str) -> list[str]:
    """The words of ``text`` as compared by :func:`word_error_rate`."""
    text = text.lower().replace("\u2019", "'")
    text = re.sub(r"(?<=[a-z])(?=\d)|(?<=\d)(?=[a-z])", " ", text)
    text = re.sub(r"[^a-z0-9' ]+", " ", text)
    words = [w.strip("'") for w in text.split()]
    return [_NUMBERS.get(w, w) for w in words if w]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Levenshtein distance between word lists (substitutions, deletions and insertions cost 1)."""
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Edit distance between the normalised word lists, over the number of reference words."""
    ref, hyp = normalize_words(reference), normalize_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)
