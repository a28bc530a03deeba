"""Motion, scene cuts, flashes, brightness and sharpness from frame differencing.

Per analysed frame (analysed once, however many windows hold it): the fraction of a downscaled,
blurred grey frame whose level changed by more than ``noise_floor`` since the previous frame, and
the region of that change; the mean brightness; the variance of the Laplacian (higher = sharper).
The cut detector (:mod:`._cuts`) sees the colour signature and brightness of every decoded frame,
from its thumbnail (``window.thumbs``), whatever the analysis rate, so one-frame flashes and cuts
between similar shots are not missed between analysed frames; without thumbnails
(``decode.thumbnail_width=0``) it sees the analysed frames.

Detections:

* ``motion`` per frame whose changed area is at least ``min_area``: ``[frame.time, frame.end)``,
  evidence ``{"area": 0-1, "region": [x0, y0, x1, y1] as fractions of the frame}``. Frames whose
  change a cut or a flash explains are not motion.
* ``scene.cut``, instant, at the first frame of the new shot; evidence ``{"score": content change
  0-1, "brightness_before", "brightness_after"}``.
* ``flash``, instant, at the first bright frame; evidence ``{"brightness_jump", "brightness_before",
  "brightness_peak", "frames": n}``.

Cuts and flashes are decided a few frames late (see :mod:`._cuts`) and reported by the window being
processed when they are decided, with their true times. Per-frame motion is reported by the window
that owns the frame (:meth:`Window.owns`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import cv2
import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...decode.payloads import VideoFrame
from ...spec import BOX, NUMBER, SCORE, EventKind, ModelInfo, Resources, StageSection, StageSpec, data
from ..base import BaseEncoder, Detection, Features
from ._cuts import CutDetector, ShotChange, signature
from ._frames import FrameCache, grey, normalised_box, shrink


@dataclass(frozen=True)
class MotionConfig(StageSection):
    """Frame-difference motion, scene cuts with flash suppression, flashes, brightness and blur."""

    noise_floor: float = bounded(6.0, 0.0, 255.0, doc="per-pixel grey-level change ignored as noise")
    min_area: float = bounded(0.002, 0.0, 1.0, doc="fraction of the frame that must change to count as motion")
    cut_threshold: float = bounded(0.35, 0.0, 1.0, lo_open=True, doc="content change (0-1) that makes a cut")
    cut_ratio: float = bounded(2.0, 1.0, 100.0,
                               doc="a cut's content change must also be this many times the recent median "
                                   "change, so fast motion is not a cut")
    flash_delta: float = bounded(40.0, 1.0, 255.0, doc="mean brightness jump (grey levels) that makes a flash")
    flash_max: float = bounded(0.3, 0.0, 5.0,
                               doc="seconds a flash or other transient may last and still not be a cut "
                                   "(a single analysed frame always may)")
    spike_min: float = bounded(0.25, 0.0, 1.0, lo_open=True,
                               doc="content change (0-1) an isolated change must reach to be a cut: a cut "
                                   "between two shots of one place changes the picture little, but once; a "
                                   "quarter of a complete change, above what sensor noise, an encoder's keyframe "
                                   "refresh or a small object entering changes between two frames")
    spike_ratio: float = bounded(4.0, 1.0, 100.0,
                                 doc="an isolated change must be this many times every other frame-to-frame "
                                     "change within cut_span before and after it (motion and noise change the "
                                     "picture over many frames)")
    cut_span: float = bounded(0.2, 0.04, 2.0, doc="seconds on each side that the isolation and ramp tests look at")
    ramp_min: float = bounded(15.0, 1.0, 255.0,
                              doc="grey levels a steady brightening or darkening must cover over cut_span on both "
                                  "sides for a change inside it to be a fade, not a cut")


#: width of the grey frame that is differenced, and of the frame the colour signature is taken from
_MOTION_WIDTH = 160
_SIGNATURE_WIDTH = 80


@dataclass
class _FrameMotion:
    area: float
    region: list[float] | None
    brightness: float
    blur: float
    explained: bool = False  # a cut or flash explains this frame's change


class MotionEncoder(BaseEncoder):
    """Frame-difference motion, scene cuts that survive flashes and fast motion, flashes.

    Summary per window: ``{"motion": fraction of frames with motion, "brightness": mean grey level
    0-255, "blur": mean variance of the Laplacian (higher = sharper), "cuts": cuts inside the
    window}``; brightness and blur are ``None`` for a window without frames.
    """

    spec = StageSpec(
        key="motion", config=MotionConfig, modality="video",
        kinds=(
            EventKind("motion", "durative", ("video",), data(area=SCORE, region=BOX),
                      doc="part of the picture changed between analysed frames"),
            EventKind("scene.cut", "instant", ("video",),
                      data(score=SCORE, brightness_before=NUMBER, brightness_after=NUMBER),
                      describe="a scene cut", doc="the first frame of a new shot"),
            EventKind("flash", "instant", ("video",),
                      data(brightness_jump=NUMBER, brightness_before=NUMBER, brightness_peak=NUMBER,
                           frames={"type": "integer", "minimum": 1}),
                      describe="a flash of light", doc="a brief bright frame (camera flash, muzzle flash)"),
        ),
        # cuts and flashes are decided a few frames late, up to flash_max after they happen
        lookback="flash_max", flush=True, thumbnails=True,
        models=lambda section: [ModelInfo("motion", "frame differencing + content change (no weights)", "-", True,
                                          kind="builtin")],
        resources=Resources(cpus=0.5),
    )

    def __init__(self, config: MotionConfig | None = None) -> None:
        cv2.setNumThreads(1)
        self.config = config or MotionConfig()
        c = self.config
        self._frames: FrameCache[_FrameMotion] = FrameCache()
        self._previous: np.ndarray | None = None
        self._cuts = CutDetector(c.cut_threshold, c.cut_ratio, c.flash_delta, c.flash_max, spike_min=c.spike_min,
                                 spike_ratio=c.spike_ratio, span=c.cut_span, ramp_min=c.ramp_min)
        self._thumbs_seen: Fraction | None = None  # the newest thumbnail given to the cut detector
        self._cut_times: deque[Fraction] = deque()

    def __call__(self, window: Window) -> Features:
        self._frames.evict_before(window.start)
        while self._cut_times and self._cut_times[0] < window.start:
            self._cut_times.popleft()

        rows: list[tuple[VideoFrame, _FrameMotion]] = []
        changes: list[ShotChange] = []
        full_rate = bool(window.thumbs)  # cuts and flashes from every decoded frame, not the analysed ones
        for frame in window.frames:
            if frame.time in self._frames:
                rows.append((frame, self._frames[frame.time]))
            elif self._frames.is_new(frame.time):
                motion, sig = self._analyse(frame)
                self._frames.put(frame.time, motion)
                if not full_rate:
                    changes += self._cuts.push(frame.time, sig, motion.brightness)
                rows.append((frame, motion))
        for thumb in window.thumbs:
            if self._thumbs_seen is None or thumb.time > self._thumbs_seen:
                self._thumbs_seen = thumb.time
                changes += self._cuts.push(thumb.time, signature(thumb.image), float(grey(thumb.image).mean()))
        if window.final:
            changes += self._cuts.flush()

        detections: list[Detection] = []
        for change in changes:
            if change.kind == "transient":
                continue
            for t in change.frames:  # the analysed frame whose difference the change explains
                explained = self._frames.first_from(t)
                if explained is not None:
                    explained.explained = True
            if change.kind == "scene.cut":
                self._cut_times.append(change.time)
                detections.append(_cut_detection(change, self.config))
            elif change.kind == "flash":
                detections.append(_flash_detection(change, self.config))

        c = self.config
        moving = 0
        for frame, m in rows:
            if m.area < c.min_area or m.explained or m.region is None:
                continue
            moving += 1
            if window.owns(frame.time):
                confidence = min(1.0, 0.5 + 0.5 * (m.area - c.min_area) / max(10 * c.min_area, 1e-3))
                detections.append(Detection("motion", frame.time, frame.end, confidence,
                                            evidence={"area": round(m.area, 4), "region": m.region}))
        detections.sort(key=lambda d: (d.start, d.kind))
        cuts = sum(1 for t in self._cut_times if window.start <= t < window.end)
        summary = {
            "motion": round(moving / len(rows), 4) if rows else 0.0,
            "brightness": round(float(np.mean([m.brightness for _, m in rows])), 2) if rows else None,
            "blur": round(float(np.mean([m.blur for _, m in rows])), 2) if rows else None,
            "cuts": cuts,
        }
        return Features(self.name, self.modality, summary=summary, detections=tuple(detections))

    def _analyse(self, frame: VideoFrame) -> tuple[_FrameMotion, np.ndarray]:
        """One new frame: motion against the previous frame, brightness, sharpness, signature."""
        full = grey(frame.image)
        blur = float(cv2.meanStdDev(cv2.Laplacian(full, cv2.CV_16S))[1][0, 0] ** 2)
        small = shrink(full, _MOTION_WIDTH)
        brightness = float(small.mean())
        small = cv2.GaussianBlur(small, (5, 5), 0)
        area, region = 0.0, None
        previous, self._previous = self._previous, small
        if previous is not None and previous.shape == small.shape:
            mask = cv2.absdiff(small, previous) > self.config.noise_floor
            area = float(mask.mean())
            if area > 0:
                ys, xs = np.nonzero(mask)
                h, w = mask.shape
                region = normalised_box(xs.min(), ys.min(), xs.max() + 1, ys.max() + 1, w, h)
        sig = signature(shrink(frame.image, _SIGNATURE_WIDTH))
        return _FrameMotion(area, region, brightness, blur), sig


def _cut_detection(change: ShotChange, config: MotionConfig) -> Detection:
    over = (change.score - config.cut_threshold) / max(1.0 - config.cut_threshold, 1e-6)
    return Detection("scene.cut", change.time, change.time, min(1.0, 0.5 + 0.5 * max(over, 0.0)), instant=True,
                     evidence={"score": round(change.score, 4),
                               "brightness_before": round(change.brightness_before, 2),
                               "brightness_after": round(change.brightness_peak, 2)})


def _flash_detection(change: ShotChange, config: MotionConfig) -> Detection:
    over = (change.brightness_jump - config.flash_delta) / config.flash_delta
    return Detection("flash", change.time, change.time, min(1.0, 0.5 + 0.5 * max(over, 0.0)), instant=True,
                     evidence={"brightness_jump": round(change.brightness_jump, 2),
                               "brightness_before": round(change.brightness_before, 2),
                               "brightness_peak": round(change.brightness_peak, 2),
                               "frames": change.length})
