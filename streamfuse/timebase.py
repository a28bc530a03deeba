"""Exact time arithmetic.

Inside streamfuse a time is an integer ``pts`` with a ``time_base`` (a :class:`~fractions.Fraction`
of a second), exactly as PyAV's frames carry it, or the exact rational ``pts * time_base`` itself.
Float seconds appear only at the edges (JSON, logs, the public API). Spans are half-open
``[start, end)``.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Union

#: the rate every audio stream is resampled to
SAMPLE_RATE = 16_000
AUDIO_TIME_BASE = Fraction(1, SAMPLE_RATE)

Number = Union[int, float, str, Fraction]


def as_fraction(value: Number) -> Fraction:
    """A user-facing number (``2.0``, ``"0.7"``, ``Fraction(1, 3)``) as an exact Fraction.

    Floats go through their shortest decimal repr, so ``0.1`` becomes ``1/10``, not the binary
    approximation.
    """
    if isinstance(value, Fraction):
        return value
    if isinstance(value, bool):
        raise TypeError("a time cannot be a bool")
    if isinstance(value, int):
        return Fraction(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"time must be finite, got {value}")
        return Fraction(repr(value))
    return Fraction(str(value))


def to_seconds(pts: int, time_base: Fraction) -> Fraction:
    """The exact time of ``pts`` ticks of ``time_base``."""
    return pts * time_base


def seconds_to_samples(seconds: Number, sample_rate: int = SAMPLE_RATE) -> int:
    """Sample index of a time: the one rounding rule used everywhere (nearest, ties up).

    ``round(t * rate)`` with ties rounded towards +infinity, so ``[t0, t1)`` maps to the samples
    ``seconds_to_samples(t0) .. seconds_to_samples(t1) - 1`` and adjacent spans share no sample.
    """
    return math.floor(as_fraction(seconds) * sample_rate + Fraction(1, 2))


def samples_to_seconds(samples: int, sample_rate: int = SAMPLE_RATE) -> Fraction:
    """Exact time of a sample index."""
    return Fraction(samples, sample_rate)


def to_float(value: Fraction | None, ndigits: int = 6) -> float | None:
    """Seconds for the edges (JSON, logs): rounded to microseconds, ``None`` stays ``None``."""
    if value is None:
        return None
    return round(float(value), ndigits)
