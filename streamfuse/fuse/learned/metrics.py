"""Scores of a classifier: accuracy, macro F1 and per-class F1 (numpy; classes by index)."""

from __future__ import annotations

from typing import Sequence

import numpy as np


def f1_per_class(truth: np.ndarray, pred: np.ndarray, n_classes: int) -> np.ndarray:
    """F1 of each class (0 for a class neither true nor predicted anywhere)."""
    out = np.zeros(n_classes)
    for c in range(n_classes):
        tp = np.sum((pred == c) & (truth == c))
        fp = np.sum((pred == c) & (truth != c))
        fn = np.sum((pred != c) & (truth == c))
        out[c] = 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0
    return out


def scores(truth: Sequence[int], pred: Sequence[int], classes: Sequence[str]) -> dict:
    """``{"accuracy", "macro_f1", "per_class": {class: F1}, "support": {class: n}}``; macro F1 over the
    classes that occur in ``truth``."""
    truth, pred = np.asarray(truth), np.asarray(pred)
    f1 = f1_per_class(truth, pred, len(classes))
    seen = [c for c in range(len(classes)) if np.any(truth == c)]
    return {"accuracy": float(np.mean(truth == pred)) if len(truth) else 0.0,
            "macro_f1": float(np.mean(f1[seen])) if seen else 0.0,
            "per_class": {classes[c]: float(f1[c]) for c in seen},
            "support": {classes[c]: int(np.sum(truth == c)) for c in seen}}


def expected_calibration_error(probs: np.ndarray, truth: np.ndarray, bins: int = 10) -> float:
    """ECE: the confidence-weighted gap between confidence and accuracy over ``bins`` equal bins."""
    conf = probs.max(1)
    right = probs.argmax(1) == truth
    edges = np.linspace(0, 1, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        sel = (conf > lo) & (conf <= hi)
        if sel.any():
            total += sel.mean() * abs(conf[sel].mean() - right[sel].mean())
    return float(total)
