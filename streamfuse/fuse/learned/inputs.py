"""A fusion model's inputs: per-window token sequences per stream, with masks.

One **example** is a window: ``{stream name: Tokens}``, one entry per stream the window has (a
stream that is absent, or whose modality the window lacks, is simply not there). Streams come from
the pipeline's own :class:`~streamfuse.encode.base.Features` (:func:`from_features`):

- every ``FeatureSeries`` in ``sequences`` (``tags.scores``: one token per audio patch, at its time),
- every embedding in ``embeddings`` that has no sequence of the same name (``text.text``: one
  window-level token),
- the numeric values of the ``summary`` (``faces.summary``: faces seen, ``motion.summary``...), one
  window-level token, its keys fixed by the model (a key a window lacks reads 0).

:func:`collate` pads examples into a :class:`Batch`: per stream ``values (B, T, D)``, ``valid (B, T)``
(False on padding) and ``times (B, T)`` (the token's start as a fraction ``[0, 1)`` of the window;
-1 for a window-level token), and ``present (B, M)``: which modalities each example has.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

from ...encode.base import Features
from ...errors import UserInputError
from .config import ModelConfig, StreamSpec

#: the time of a window-level token (an embedding or a summary: no position inside the window)
WINDOW_LEVEL = -1.0


@dataclass(frozen=True, eq=False)
class Tokens:
    """One stream of one window: ``values`` (T x D float32) and ``times`` (T, fraction of the window)."""

    values: np.ndarray
    times: np.ndarray

    def __post_init__(self) -> None:
        if self.values.ndim != 2 or len(self.times) != len(self.values):
            raise ValueError(f"Tokens need T x D values and T times, got {self.values.shape} and {self.times.shape}")

    def __repr__(self) -> str:
        return f"Tokens(steps={len(self.values)}, dim={self.values.shape[1]})"


Example = Mapping[str, Tokens]


def summary_vector(summary: Mapping[str, Any], keys: Sequence[str]) -> np.ndarray:
    """The numeric values of ``summary`` at ``keys`` (booleans 0/1; missing, None or not a number: 0)."""
    out = np.zeros(len(keys), np.float32)
    for i, key in enumerate(keys):
        value = summary.get(key)
        if isinstance(value, (bool, int, float)) and np.isfinite(float(value)):
            out[i] = float(value)
    return out


def numeric_keys(summary: Mapping[str, Any]) -> list[str]:
    return sorted(k for k, v in summary.items() if isinstance(v, (bool, int, float)) and not isinstance(v, str))


def from_features(features: Iterable[Features], start: Fraction, end: Fraction,
                  modalities: Iterable[str] | None = None, *, summary_keys: Mapping[str, Sequence[str]] | None = None,
                  max_steps: int = 64) -> tuple[dict[str, Tokens], dict[str, str]]:
    """The streams of one window ``[start, end)`` from its encoders' features.

    ``modalities``: those the window has (features of others are left out: a missing modality).
    ``summary_keys``: per encoder, the summary keys of its ``<encoder>.summary`` stream (default:
    the numeric keys it has now; a summary holding none of them gives no token). Long sequences are averaged down to ``max_steps`` tokens.
    Returns ``(streams, modality of each stream)``.
    """
    span = float(end - start) or 1.0
    present = None if modalities is None else set(modalities)
    out: dict[str, Tokens] = {}
    kinds: dict[str, str] = {}
    for f in features:
        if present is not None and f.modality not in present:
            continue
        for name, series in f.sequences.items():
            if not len(series.times):
                continue
            times = np.array([float(t - start) / span for t in series.times], np.float32)
            values, times = shorten(series.values, np.clip(times, 0.0, 0.999), max_steps)
            out[f"{f.encoder}.{name}"] = Tokens(values, times)
            kinds[f"{f.encoder}.{name}"] = f.modality
        for name, vector in f.embeddings.items():
            if name in f.sequences:
                continue
            out[f"{f.encoder}.{name}"] = Tokens(vector.astype(np.float32)[None, :], np.array([WINDOW_LEVEL], np.float32))
            kinds[f"{f.encoder}.{name}"] = f.modality
        keys = (summary_keys or {}).get(f.encoder)
        keys = numeric_keys(f.summary) if keys is None else keys
        if keys and any(k in f.summary for k in keys):  # an encoder with nothing to say is missing
            out[f"{f.encoder}.summary"] = Tokens(summary_vector(f.summary, keys)[None, :],
                                                 np.array([WINDOW_LEVEL], np.float32))
            kinds[f"{f.encoder}.summary"] = f.modality
    return out, kinds


def shorten(values: np.ndarray, times: np.ndarray, max_steps: int) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_steps`` tokens: consecutive ones averaged, each group at its first time."""
    if len(values) <= max_steps:
        return values.astype(np.float32), times
    groups = np.array_split(np.arange(len(values)), max_steps)
    return (np.stack([values[g].mean(0) for g in groups]).astype(np.float32),
            np.array([times[g[0]] for g in groups], np.float32))


def window_modalities(window: Any) -> list[str]:
    """The modalities whose features a model may read in ``window``: video and audio when the
    window has them, text always (a transcript may come from speech recognition of the audio)."""
    return [m for m in ("video", "audio") if getattr(window, f"has_{m}")] + ["text"]


def check_example(example: Example, config: ModelConfig, where: str = "window") -> None:
    """A :class:`~streamfuse.errors.UserInputError` naming the stream when a width does not match."""
    known = {s.name: s for s in config.streams}
    for name, tokens in example.items():
        spec = known.get(name)
        if spec is not None and tokens.values.shape[1] != spec.dim:
            raise UserInputError(f"{where}: stream {name} has {tokens.values.shape[1]} features but the model "
                                 f"expects {spec.dim}; use the encoders the model was trained with")


@dataclass
class Batch:
    """Padded examples (torch tensors): ``values/valid/times`` per stream, ``present (B, M)`` per
    modality in ``modalities`` order, ``labels (B,)`` or None."""

    values: dict[str, Any]
    valid: dict[str, Any]
    times: dict[str, Any]
    present: Any
    modalities: list[str]
    labels: Any = None
    stream_modality: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return int(self.present.shape[0])

    def without(self, drop: Any) -> "Batch":
        """A copy with modalities hidden where ``drop (B, M)`` is True (their tokens invalid)."""
        present = self.present & ~drop
        valid = {}
        for name, v in self.valid.items():
            keep = present[:, self.modalities.index(self.stream_modality[name])]
            valid[name] = v & keep[:, None]
        return Batch(self.values, valid, self.times, present, self.modalities, self.labels, self.stream_modality)


def collate(examples: Sequence[Example], config: ModelConfig, labels: Sequence[int] | None = None) -> Batch:
    """Pad ``examples`` into a :class:`Batch` for ``config``'s streams (unknown streams are ignored)."""
    import torch

    n = len(examples)
    mods = config.modalities
    values, valid, times = {}, {}, {}
    present = torch.zeros(n, len(mods), dtype=torch.bool)
    for spec in config.streams:
        steps = max([len(e[spec.name].values) for e in examples if spec.name in e] or [1])
        v = np.zeros((n, steps, spec.dim), np.float32)
        m = np.zeros((n, steps), bool)
        t = np.full((n, steps), WINDOW_LEVEL, np.float32)
        for i, e in enumerate(examples):
            tok = e.get(spec.name)
            if tok is None or not len(tok.values):
                continue
            if tok.values.shape[1] != spec.dim:
                raise UserInputError(f"stream {spec.name} has {tok.values.shape[1]} features but the model "
                                     f"expects {spec.dim}; use the encoders the model was trained with")
            k = len(tok.values)
            v[i, :k], m[i, :k], t[i, :k] = tok.values, True, tok.times
        values[spec.name] = torch.from_numpy(v)
        valid[spec.name] = torch.from_numpy(m)
        times[spec.name] = torch.from_numpy(t)
        present[:, mods.index(spec.modality)] |= valid[spec.name].any(1)
    y = None if labels is None else torch.as_tensor(list(labels), dtype=torch.long)
    return Batch(values, valid, times, present, mods, y, {s.name: s.modality for s in config.streams})


def stream_specs(examples: Iterable[tuple[Example, Mapping[str, str]]],
                 summary_keys: Mapping[str, Sequence[str]] | None = None) -> list[StreamSpec]:
    """The streams seen in ``(example, modality of each stream)`` pairs, with their widths, sorted by
    name (``summary_keys``: the keys each encoder's summary stream was built with); a width that
    changes between windows is a :class:`~streamfuse.errors.UserInputError`."""
    dims: dict[str, tuple[int, str]] = {}
    for example, kinds in examples:
        for name, tok in example.items():
            d = tok.values.shape[1]
            if name in dims and dims[name][0] != d:
                raise UserInputError(f"stream {name} changes width between windows ({dims[name][0]} and {d})")
            dims[name] = (d, kinds[name])
    keys = summary_keys or {}
    return [StreamSpec(name=k, modality=m, dim=d,  # type: ignore[arg-type]
                       keys=list(keys.get(k.rsplit(".", 1)[0], [])) if k.endswith(".summary") else [])
            for k, (d, m) in sorted(dims.items())]
