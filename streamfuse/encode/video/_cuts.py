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
    ``flash_max`` seconds plus two frames), the last ``history`` frame-to-frame distances and the
    decided frames of the last ``span`` seconds.

    Besides a large change (``cut_threshold``, ``cut_ratio``), a cut is an *isolated* change: one
    frame differs from the one before by at least ``spike_min`` while every other frame-to-frame
    change within ``span`` before and after is at most ``1 / spike_ratio`` of it (a cut between two
    shots of one room changes the picture once; motion, noise and fades change it over many frames).
    Neither kind is a cut when it is part of a brightness *ramp*: the mean brightness moves the same
    way frame after frame over ``span`` on both sides, by ``ramp_min`` grey levels or more, with no
    step standing out (a fade to or from black).
    """

    def __init__(self, cut_threshold: float, cut_ratio: float, flash_delta: float, flash_max: float,
                 history: int = 8, *, spike_min: float = 1.0, spike_ratio: float = 4.0, span: float = 0.2,
                 ramp_min: float = 15.0) -> None:
        self.cut_threshold = cut_threshold
        self.cut_ratio = cut_ratio
        self.flash_delta = flash_delta
        self.flash_max = as_fraction(flash_max)
        self.spike_min = spike_min
        self.spike_ratio = spike_ratio
        self.span = as_fraction(span)
        self.ramp_min = ramp_min
        self._buffer: deque[_Stat] = deque()
        self._history: deque[float] = deque(maxlen=history)
        self._past: deque[tuple[_Stat, float]] = deque()  # decided frames of the last span, with their distance

    def __len__(self) -> int:
        return len(self._buffer)

    def push(self, time: Fraction, sig: np.ndarray, brightness: float) -> list[ShotChange]:
        self._buffer.append(_Stat(time, sig, brightness))
        return self._advance(final=False)

    def flush(self) -> list[ShotChange]:
        """End of stream: decide what is pending (a change that lasted to the end persisted)."""
        return self._advance(final=True)

    def _pop(self, d: float) -> None:
        """The reference is decided: it moves into the past, the candidate becomes the reference."""
        self._history.append(d)
        ref = self._buffer.popleft()
        self._past.append((ref, d))
        while len(self._past) > 1 and self._past[1][0].time < ref.time - self.span:
            self._past.popleft()

    def _advance(self, final: bool) -> list[ShotChange]:
        out: list[ShotChange] = []
        buf = self._buffer
        while len(buf) >= 2:
            ref, cand = buf[0], buf[1]
            d = content_distance(ref.signature, cand.signature)
            baseline = statistics.median(self._history) if self._history else 0.0
            content = d >= self.cut_threshold and d >= self.cut_ratio * baseline
            jump = cand.brightness - ref.brightness
            maybe = content or d >= self.spike_min
            if not (maybe or abs(jump) >= self.flash_delta):
                self._pop(d)
                continue
            if maybe:
                after = self._after(cand)
                if after is None and not final:
                    break  # the frames within span after the candidate are not all here yet
                after = after or []
                content = (content or self._isolated(d, after)) and not self._ramp(ref, cand, after)
                if not content and abs(jump) < self.flash_delta:
                    self._pop(d)
                    continue
            bright = jump >= self.flash_delta
            outcome, k = self._look_ahead(ref, bright, d)
            if outcome == "wait" and not final:
                break
            if outcome == "back":  # frames 1..k-1 were a transient; frame k becomes the reference
                span = [buf[i] for i in range(1, k + 1)]
                out.append(ShotChange("flash" if bright else "transient", cand.time, d, ref.brightness,
                                      max(s.brightness for s in span[:-1]),
                                      tuple(s.time for s in span), length=k - 1))
                for _ in range(k):
                    buf.popleft()
                self._past.clear()
            elif outcome == "flash-ended":  # a flash, then new content: weigh frame k against ref
                span = [buf[i] for i in range(1, k)]
                out.append(ShotChange("flash", cand.time, d, ref.brightness, max(s.brightness for s in span),
                                      tuple(s.time for s in span), length=k - 1))
                for _ in span:
                    del buf[1]
            else:  # the change persisted (or the stream ended on it)
                if content:
                    out.append(ShotChange("scene.cut", cand.time, d, ref.brightness, cand.brightness, (cand.time,)))
                    buf.popleft()
                    self._past.clear()  # a new shot: what came before says nothing about it
                else:
                    self._pop(d)
        return out

    def _after(self, cand: _Stat) -> list[float] | None:
        """Frame-to-frame distances after ``cand`` within ``span`` (None: not all here yet)."""
        buf, out = self._buffer, []
        for i in range(2, len(buf)):
            out.append(content_distance(buf[i - 1].signature, buf[i].signature))
            if buf[i].time - cand.time >= self.span:
                return out
        return None

    def _isolated(self, d: float, after: list[float]) -> bool:
        """``d`` stands out from every other change within ``span`` before and after it."""
        ref = self._buffer[0]  # each past frame's distance to the frame after it, within span
        others = [x for stat, x in self._past if stat.time >= ref.time - self.span] + after
        return d >= self.spike_min and bool(others) and d >= self.spike_ratio * max(others)

    def _ramp(self, ref: _Stat, cand: _Stat, after: list[float]) -> bool:
        """The step ``ref -> cand`` is part of a steady brightness ramp (a fade) over ``span`` on both sides."""
        before = [stat for stat, _ in self._past if stat.time >= ref.time - self.span]
        later = list(self._buffer)[2:2 + len(after)]
        levels = [s.brightness for s in before + [ref, cand] + later]
        if len(levels) < 4:
            return False
        steps = np.diff(levels)
        jump = cand.brightness - ref.brightness
        same = steps * np.sign(jump) >= -1.0  # every step the ramp's way (a grey level of noise allowed)
        others = np.abs(np.delete(steps, len(before)))
        return (bool(same.all()) and abs(levels[-1] - levels[0]) >= self.ramp_min
                and abs(jump) <= 3.0 * max(float(np.median(others)), 1.0))

    def _look_ahead(self, ref: _Stat, bright: bool, d: float) -> tuple[str, int]:
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
            # back to the reference's content: nearer to it than half of the change away from it
            if level_back and content_distance(ref.signature, later.signature) < min(self.cut_threshold, d / 2):
                return "back", k
            if bright and level_back:
                return "flash-ended", k
        return "wait", len(buf)
