"""Scene cuts and flashes from per-frame content signatures, with a short look-ahead.

A candidate is a frame whose content differs from the previous frame's (colour-histogram distance
at least ``cut_threshold`` and at least ``cut_ratio`` times the recent median change, so steady fast
motion does not qualify) or whose mean brightness jumps by ``flash_delta`` or more. The detector
then waits for the next frames:

* if, within ``flash_max`` seconds (or on the very next analysed frame, at any rate), a frame comes
  back to the content and brightness before the candidate, the change was a transient: a
  **flash** when the candidate was brighter (camera flash, muzzle flash, lightning), otherwise
  nothing (something passed in front of the lens, a glitch);
* if a bright candidate's brightness comes back in time but the content does not, it is a flash
  followed by a change, and the frame after the flash is weighed against the frame before it;
* otherwise the new content persists and the candidate is a **scene cut** (when its content changed;
  a brightness step alone, such as a light switched on, is neither).

Decisions therefore come a little late, with their true times; the fusion stage accepts late
instant detections and de-duplicates them by kind and start.
"""

from __future__ import annotations

import statistics
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import cv2
import numpy as np

from ...timebase import as_fraction

#: bins of the HSV histogram (hue, saturation, value)
_BINS = (16, 4, 4)
_NBINS = _BINS[0] * _BINS[1] * _BINS[2]


def _smoothing_matrix() -> np.ndarray:
    """``hist @ M`` blurs a flattened histogram by [1/4, 1/2, 1/4] along each axis (hue wraps)."""
    eye = np.eye(_NBINS, dtype=np.float32).reshape(_NBINS, *_BINS)
    out = 0.5 * eye + 0.25 * (np.roll(eye, 1, axis=1) + np.roll(eye, -1, axis=1))
    for axis in (2, 3):
        n = out.shape[axis]
        padded = np.pad(out, [(1, 1) if a == axis else (0, 0) for a in range(4)])
        out = (0.25 * padded.take(range(0, n), axis=axis) + 0.5 * padded.take(range(1, n + 1), axis=axis)
               + 0.25 * padded.take(range(2, n + 2), axis=axis))
    return out.reshape(_NBINS, _NBINS).astype(np.float32)


_SMOOTH = _smoothing_matrix()


def signature(small_rgb: np.ndarray) -> np.ndarray:
    """The content signature of a (downscaled) RGB frame: its global and 2x2-grid HSV histograms.

    Row 0 is the whole frame's histogram, rows 1-4 the quadrants'; each row sums to 1 (an empty
    quadrant of a one-pixel-high frame repeats the whole frame's). Each histogram is smoothed across neighbouring
    bins (hue wraps around), so a uniform area whose level drifts over a bin edge (auto exposure on
    grey asphalt) does not look like new content.
    """
    hsv = cv2.cvtColor(small_rgb, cv2.COLOR_RGB2HSV)
    h, w = hsv.shape[:2]
    index = ((hsv[..., 0].astype(np.int32) * _BINS[0] // 180) * (_BINS[1] * _BINS[2])
             + (hsv[..., 1] >> 6).astype(np.int32) * _BINS[2] + (hsv[..., 2] >> 6).astype(np.int32))
    quadrant = (np.arange(h)[:, None] >= h / 2).astype(np.int32) * 2 + (np.arange(w)[None, :] >= w / 2)
    counts = np.bincount((quadrant * _NBINS + index).ravel(), minlength=4 * _NBINS).reshape(4, _NBINS)
    rows = np.vstack([counts.sum(axis=0, keepdims=True), counts]).astype(np.float32) @ _SMOOTH
    rows /= rows.sum(axis=1, keepdims=True).clip(min=1e-12)
    rows[1:][counts.sum(axis=1) == 0] = rows[0]  # an empty quadrant (a frame 1 pixel high) is the whole
    return rows


def _hellinger(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hellinger (Bhattacharyya) distance 0-1 between histogram rows."""
    bc = np.sqrt(a * b).sum(axis=-1)
    return np.sqrt(np.clip(1.0 - bc, 0.0, 1.0))


def content_distance(a: np.ndarray, b: np.ndarray) -> float:
    """Content change 0-1 between two signatures: the mean of the global and the quadrant distances.

    The global histogram ignores where things are, so motion barely moves it; the quadrants catch a
    cut between two shots of similar colours.
    """
    d = _hellinger(a, b)
    return float(0.5 * d[0] + 0.5 * d[1:].mean())


@dataclass(frozen=True)
class _Stat:
    time: Fraction
    signature: np.ndarray
    brightness: float


@dataclass(frozen=True)
class ShotChange:
    """A decision: ``kind`` at ``time`` (the first frame of the new shot, or the first bright frame).

    ``frames`` are the times whose frame-to-frame differences the change explains: the cut frame;
    the bright frames and the frame after them. A ``transient`` (something brief that was not
    brighter) explains nothing: whatever passed the lens moved. ``length`` counts the frames a
    flash or transient lasted (1 for a cut).
    """

    kind: Literal["scene.cut", "flash", "transient"]
    time: Fraction
    score: float
    brightness_before: float
    brightness_peak: float
    frames: tuple[Fraction, ...]
    length: int = 1

    @property
    def brightness_jump(self) -> float:
        return self.brightness_peak - self.brightness_before


class CutDetector:
    """Feeds on one frame at a time (``push``) and returns the changes it could decide.

    Holds the reference frame (the last decided one), the undecided frames after it (at most
    ``flash_max`` seconds plus two frames) and the last ``history`` frame-to-frame distances.
    """

    def __init__(self, cut_threshold: float, cut_ratio: float, flash_delta: float, flash_max: float,
                 history: int = 8) -> None:
        self.cut_threshold = cut_threshold
        self.cut_ratio = cut_ratio
        self.flash_delta = flash_delta
        self.flash_max = as_fraction(flash_max)
        self._buffer: deque[_Stat] = deque()
        self._history: deque[float] = deque(maxlen=history)

    def __len__(self) -> int:
        return len(self._buffer)

    def push(self, time: Fraction, sig: np.ndarray, brightness: float) -> list[ShotChange]:
        self._buffer.append(_Stat(time, sig, brightness))
        return self._advance(final=False)

    def flush(self) -> list[ShotChange]:
        """End of stream: decide what is pending (a change that lasted to the end persisted)."""
        return self._advance(final=True)

    def _advance(self, final: bool) -> list[ShotChange]:
        out: list[ShotChange] = []
        buf = self._buffer
        while len(buf) >= 2:
            ref, cand = buf[0], buf[1]
            d = content_distance(ref.signature, cand.signature)
            baseline = statistics.median(self._history) if self._history else 0.0
            content = d >= self.cut_threshold and d >= self.cut_ratio * baseline
            jump = cand.brightness - ref.brightness
            if not (content or abs(jump) >= self.flash_delta):
                self._history.append(d)
                buf.popleft()
                continue
            bright = jump >= self.flash_delta
            outcome, k = self._look_ahead(ref, bright)
            if outcome == "wait" and not final:
                break
            if outcome == "back":  # frames 1..k-1 were a transient; frame k becomes the reference
                span = [buf[i] for i in range(1, k + 1)]
                out.append(ShotChange("flash" if bright else "transient", cand.time, d, ref.brightness,
                                      max(s.brightness for s in span[:-1]),
                                      tuple(s.time for s in span), length=k - 1))
                for _ in range(k):
                    buf.popleft()
            elif outcome == "flash-ended":  # a flash, then new content: weigh frame k against ref
                span = [buf[i] for i in range(1, k)]
                out.append(ShotChange("flash", cand.time, d, ref.brightness, max(s.brightness for s in span),
                                      tuple(s.time for s in span), length=k - 1))
                for _ in span:
                    del buf[1]
            else:  # the change persisted (or the stream ended on it)
                if content:
                    out.append(ShotChange("scene.cut", cand.time, d, ref.brightness, cand.brightness, (cand.time,)))
                else:
                    self._history.append(d)
                buf.popleft()
        return out

    def _look_ahead(self, ref: _Stat, bright: bool) -> tuple[str, int]:
        """What the frames after the candidate ``buf[1]`` say, and at which index.

        ``back``: frame k has the reference's content and brightness again; ``flash-ended``: a
        bright candidate's brightness is back at frame k but the content is not; ``persisted``: no
        frame within ``flash_max`` came back; ``wait``: too few frames yet.
        """
        buf = self._buffer
        start = buf[1].time
        for k in range(2, len(buf)):
            later = buf[k]
            if k > 2 and later.time - start > self.flash_max:
                return "persisted", k
            level_back = abs(later.brightness - ref.brightness) < self.flash_delta / 2
            if level_back and content_distance(ref.signature, later.signature) < self.cut_threshold:
                return "back", k
            if bright and level_back:
                return "flash-ended", k
        return "wait", len(buf)
