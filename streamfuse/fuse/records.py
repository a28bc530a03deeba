"""The window record: one line of ``windows.jsonl`` per window, and its embeddings.

A record holds the window's span, the modalities present, every encoder's summary under its name
(by modality), the transcript text, each encoder's top labels with scores (``labels``) and damaged
spans; fusers add what they own (the description).
Vectors never go into the JSON: each named embedding (``<encoder>.<name>``, and fusers' own) goes
to the binary sidecar, and the record lists which ones the window has.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..align.window import Window
from ..decode.payloads import TextSegment
from ..encode.base import Features
from ..timebase import to_float
from .values import json_safe


def window_record(window: Window, features: list[Features], transcript_text: str) -> dict[str, Any]:
    """The record of ``window``: span, modalities, per-encoder summaries, transcript, damage."""
    summaries: dict[str, dict[str, Any]] = {"video": {}, "audio": {}, "text": {}}
    for f in features:
        summaries[f.modality][f.encoder] = json_safe(f.summary)
    record = {
        "source": window.source_id, "index": window.index,
        "start": to_float(window.start), "end": to_float(window.end),
        "modalities": window.modalities,
        "video": summaries["video"], "audio": summaries["audio"],
        "text": {"transcript": transcript_text, **summaries["text"]},
    }
    labels = {f.encoder: [[name, round(float(score), 4)] for name, score in f.labels] for f in features if f.labels}
    if labels:
        record["labels"] = labels
    if window.damaged:
        record["damaged"] = [[to_float(a), to_float(b)] for a, b in window.damaged]
    return record


def transcript_text(window: Window, transcript: list[TextSegment]) -> str:
    """The window's text: its subtitle cues, then the speech recognised in it (each text once)."""
    words = [s.text for s in window.segments] + [s.text for s in transcript if s.origin == "asr"]
    return " ".join(dict.fromkeys(words))


def encoder_embeddings(features: list[Features]) -> dict[str, np.ndarray]:
    """Every encoder's named window vectors, as ``<encoder>.<name>`` (``<encoder>`` when the name is it)."""
    out = {}
    for f in features:
        for name, vector in f.embeddings.items():
            out[f.encoder if name == f.encoder else f"{f.encoder}.{name}"] = vector
    return out
