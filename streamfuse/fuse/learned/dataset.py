"""Labelled footage for training: the labels file, each window's label, and the feature cache.

``labels.csv`` has a header and rows ``source,start,end,label`` (source a media path, relative to
the file's folder or absolute; start and end in seconds, a half-open span ``[start, end)``). A
window lying inside a span takes its label; a window touching no span is ``background`` (unless
``background=None``); a window partly inside a span is left out (its label is not known). Mistakes
are one-line :class:`~streamfuse.errors.UserInputError` naming the row: an unknown source, an empty
or reversed span, overlapping spans with different labels, fewer than two classes.

The encoders' features of a source are cached (:class:`FeatureCache`) under a key made of the
file's content hash and the settings that shape features (encoders and window), so several models
train on one extraction; a cached source is one ``.npz`` file (no pickles).
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ...errors import UserInputError
from .inputs import Tokens, numeric_keys, summary_vector

BACKGROUND = "background"
CACHE_FORMAT = 1


@dataclass(frozen=True)
class Span:
    row: int
    source: str
    start: Fraction
    end: Fraction
    label: str


def read_labels(path: str | os.PathLike) -> list[Span]:
    """The spans of a labels file, checked."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserInputError(f"labels file {path} cannot be read ({exc})") from None
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        raise UserInputError(f"labels file {path} is empty; it needs a header source,start,end,label and rows")
    header = [h.strip().lower() for h in rows[0]]
    want = ["source", "start", "end", "label"]
    if any(w not in header for w in want):
        raise UserInputError(f"{path} row 1: the header must name source,start,end,label, got {','.join(rows[0])}")
    col = {w: header.index(w) for w in want}
    spans = []
    for n, row in enumerate(rows[1:], start=2):
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            raise UserInputError(f"{path} row {n}: expected {len(header)} fields, got {len(row)}")
        source, label = row[col["source"]].strip(), row[col["label"]].strip()
        if not source or not label:
            raise UserInputError(f"{path} row {n}: source and label must not be empty")
        try:
            start, end = (Fraction(row[col[k]].strip()) for k in ("start", "end"))
        except (ValueError, ZeroDivisionError):
            raise UserInputError(f"{path} row {n}: start and end must be seconds, got "
                                 f"{row[col['start']]!r}, {row[col['end']]!r}") from None
        if start < 0 or end <= start:
            raise UserInputError(f"{path} row {n}: the span {float(start):g}-{float(end):g} s is empty or reversed")
        media = Path(source) if Path(source).is_absolute() else path.parent / source
        if not media.is_file():
            raise UserInputError(f"{path} row {n}: source {source} does not exist (paths are relative to the "
                                 f"labels file's folder)")
        spans.append(Span(n, str(media.resolve()), start, end, label))
    if not spans:
        raise UserInputError(f"labels file {path} has a header but no rows")
    by_source: dict[str, list[Span]] = {}
    for s in spans:
        by_source.setdefault(s.source, []).append(s)
    for group in by_source.values():
        group.sort(key=lambda s: s.start)
        for a, b in zip(group, group[1:]):
            if b.start < a.end and a.label != b.label:
                raise UserInputError(f"{path} rows {a.row} and {b.row}: overlapping spans with different labels "
                                     f"({a.label}, {b.label}) in {Path(a.source).name}")
    return spans


def window_label(spans: Sequence[Span], start: Fraction, end: Fraction, background: str | None) -> str | None:
    """The label of window ``[start, end)``: the span it lies in, ``background`` when it touches
    none, ``None`` when it is partly inside one (or touches none and there is no background)."""
    touching = [s for s in spans if s.start < end and start < s.end]
    if not touching:
        return background
    inside = {s.label for s in touching if s.start <= start and end <= s.end}
    if len(inside) == 1 and all(s.label in inside for s in touching):
        return inside.pop()
    return None


def check_classes(labels: Iterable[str], where: str) -> list[str]:
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise UserInputError(f"{where}: the labelled windows hold {len(classes)} class"
                             f"{'es' if len(classes) != 1 else ''} ({', '.join(classes) or 'none'}); a model needs "
                             "at least two (label more footage, or keep the background class)")
    return classes


# -- cached features --------------------------------------------------------------------------------


@dataclass
class WindowFeatures:
    """What the encoders made of one window, as a fusion model reads it: the streams from sequences
    and embeddings, and each encoder's numeric summary (``summaries``) to build summary streams."""

    index: int
    start: Fraction
    end: Fraction
    streams: dict[str, Tokens] = field(default_factory=dict)
    modality: dict[str, str] = field(default_factory=dict)  # of each stream and each encoder
    summaries: dict[str, dict[str, float]] = field(default_factory=dict)

    def example(self, summary_keys: Mapping[str, Sequence[str]]) -> dict[str, Tokens]:
        out = dict(self.streams)
        for encoder, keys in summary_keys.items():
            summary = self.summaries.get(encoder)
            if summary is not None and keys and any(k in summary for k in keys):
                out[f"{encoder}.summary"] = Tokens(summary_vector(summary, keys)[None, :], np.array([-1.0], np.float32))
        return out

    def kinds(self, summary_keys: Mapping[str, Sequence[str]]) -> dict[str, str]:
        return {**self.modality, **{f"{e}.summary": self.modality[e] for e in summary_keys if e in self.modality}}


def window_features(index: int, start: Fraction, end: Fraction, features: Iterable[Any], modalities: Iterable[str],
                    max_steps: int = 64) -> WindowFeatures:
    """A :class:`WindowFeatures` from the window's :class:`~streamfuse.encode.base.Features`."""
    from .inputs import from_features

    features = [f for f in features if f.modality in set(modalities)]
    streams, kinds = from_features(features, start, end, summary_keys={f.encoder: [] for f in features},
                                   max_steps=max_steps)
    summaries = {}
    for f in features:
        keys = numeric_keys(f.summary)
        kinds[f.encoder] = f.modality
        if keys:
            summaries[f.encoder] = {k: float(f.summary[k]) for k in keys}
    return WindowFeatures(index, start, end, streams, kinds, summaries)


def summary_keys_of(windows: Iterable[WindowFeatures]) -> dict[str, list[str]]:
    """Per encoder, every numeric summary key any window has, sorted."""
    keys: dict[str, set[str]] = {}
    for w in windows:
        for encoder, summary in w.summaries.items():
            keys.setdefault(encoder, set()).update(summary)
    return {e: sorted(k) for e, k in sorted(keys.items())}


def file_hash(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class FeatureCache:
    """``folder/<key>.npz`` per source and feature settings."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)

    @staticmethod
    def key(path: str, settings: Mapping[str, Any]) -> str:
        text = json.dumps({"format": CACHE_FORMAT, "content": file_hash(path), "settings": settings},
                          sort_keys=True, default=str)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def load(self, key: str) -> list[WindowFeatures] | None:
        path = self.folder / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                meta = json.loads(str(z["meta"]))
                out = []
                for i, w in enumerate(meta):
                    streams = {name: Tokens(z[f"{i}/{name}/v"], z[f"{i}/{name}/t"]) for name in w["streams"]}
                    out.append(WindowFeatures(w["index"], Fraction(w["start"]), Fraction(w["end"]), streams,
                                              w["modality"], w["summaries"]))
                return out
        except (OSError, ValueError, KeyError):
            return None  # a damaged cache entry is recomputed

    def save(self, key: str, windows: Sequence[WindowFeatures]) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray] = {}
        meta = []
        for i, w in enumerate(windows):
            meta.append({"index": w.index, "start": str(w.start), "end": str(w.end), "streams": list(w.streams),
                         "modality": w.modality, "summaries": w.summaries})
            for name, tok in w.streams.items():
                arrays[f"{i}/{name}/v"], arrays[f"{i}/{name}/t"] = tok.values, tok.times
        fd, tmp = tempfile.mkstemp(dir=self.folder, suffix=".npz.tmp")
        os.close(fd)
        with open(tmp, "wb") as f:
            np.savez(f, meta=np.array(json.dumps(meta)), **arrays)
        os.replace(tmp, self.folder / f"{key}.npz")

