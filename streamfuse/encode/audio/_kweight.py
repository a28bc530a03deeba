"""K-weighting (ITU-R BS.1770 / EBU R128) at any sample rate, and decibel helpers."""

from __future__ import annotations

import math

import numpy as np

#: the level reported for no signal at all (digital silence): a number, so JSON and comparisons work
FLOOR_DB = -120.0


def k_weighting_sos(rate: int) -> np.ndarray:
    """Second-order sections of the K-weighting filter (high shelf, then the RLB high-pass) at ``rate``.

    BS.1770 publishes the two biquads for 48 kHz only. These are the analogue prototypes fitted to
    those coefficients (libebur128's derivation: shelf f0 = 1681.97 Hz, gain 4.0 dB, Q = 0.7072;
    high-pass f0 = 38.14 Hz, Q = 0.5003), mapped with the bilinear transform; at 48 kHz they give
    the published coefficients back.
    """
    f0, gain_db, q = 1681.974450955533, 3.999843853973347, 0.7071752369554196
    k = math.tan(math.pi * f0 / rate)
    vh = 10.0 ** (gain_db / 20.0)
    vb = vh ** 0.4996667741545416
    a0 = 1.0 + k / q + k * k
    shelf = [(vh + vb * k / q + k * k) / a0, 2.0 * (k * k - vh) / a0, (vh - vb * k / q + k * k) / a0,
             1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    f0, q = 38.13547087602444, 0.5003270373238773
    k = math.tan(math.pi * f0 / rate)
    a0 = 1.0 + k / q + k * k
    highpass = [1.0, -2.0, 1.0, 1.0, 2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0]
    return np.array([shelf, highpass])


def power_db(mean_square: np.ndarray | float) -> np.ndarray:
    """``10 log10`` of a mean square, floored at :data:`FLOOR_DB` (zeros give the floor, not -inf)."""
    ms = np.asarray(mean_square, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.maximum(10.0 * np.log10(ms), FLOOR_DB)


def lufs(k_mean_square: np.ndarray | float) -> np.ndarray:
    """Loudness (LUFS) of one channel's K-weighted mean square, floored at :data:`FLOOR_DB`."""
    ms = np.asarray(k_mean_square, dtype=np.float64)
    with np.errstate(divide="ignore"):
        return np.maximum(-0.691 + 10.0 * np.log10(ms), FLOOR_DB)
