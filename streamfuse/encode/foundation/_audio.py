"""A window's audio for a Hugging Face audio model: resampled to the model's rate, with exact
sample counts (one rounding, as :func:`scipy.signal.resample_poly` keeps ``n * up / down``)."""

from __future__ import annotations

from math import gcd

import numpy as np

from ...align.window import Window


def window_audio(window: Window, rate: int, max_seconds: float | None = None) -> np.ndarray | None:
    """The window's samples at ``rate`` (float32, mono), the middle ``max_seconds`` when longer;
    ``None`` when the window holds no audio."""
    clip = window.audio
    if clip is None or not window.has_audio or len(clip.samples) == 0:
        return None
    samples = clip.samples
    if clip.sample_rate != rate:
        from scipy.signal import resample_poly

        g = gcd(int(rate), int(clip.sample_rate))
        samples = resample_poly(samples, rate // g, clip.sample_rate // g).astype(np.float32)
    if max_seconds:
        keep = int(round(max_seconds * rate))
        if len(samples) > keep:
            start = (len(samples) - keep) // 2
            samples = samples[start:start + keep]
    return np.ascontiguousarray(samples, dtype=np.float32)
