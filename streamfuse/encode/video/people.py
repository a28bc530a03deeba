"""People with OpenCV's bundled HOG + linear SVM pedestrian detector, gated by motion.

At most ``rate`` frames per second are examined (picked by timestamp). With ``motion_gated``, an
examined frame runs HOG only when enough of it (``motion_area``) changed since the frame HOG last
ran on (a cheap difference of tiny blurred grey frames); otherwise nothing moved and the previous
result is carried forward (evidence ``"carried": true``). The frame is resized to ``width`` first:
HOG's window is 64x128 pixels, so the default 640 finds people about 64 pixels tall in a 320-wide
analysis frame. Raw detections at or above ``min_score`` go through non-maximum suppression.

Detections: ``person`` per examined frame with people, ``[frame.time, next examined frame)``,
confidence ``1 - exp(-score)`` of the best box, evidence ``{"boxes": [[x0, y0, x1, y1] fractions
0-1], "count": n, "scores": per box}``. Summary ``{"people": most people in one examined frame}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ...config.base import bounded
from ...decode.payloads import VideoFrame
from ...spec import EventKind, ModelInfo, Resources, StageSection, StageSpec
from ._frames import grey, nms, normalised_box, resize_to_width, shrink
from ._sampled import FOUND_DATA, Found, SampledDetector


@dataclass(frozen=True)
class PeopleConfig(StageSection):
    """People with OpenCV's bundled HOG detector, gated by motion. Off by default: the neural object
    detector (``encoders.objects``) reports people from its person tracks, better on every clip
    measured (benchmarks/bench_objects.py); turn this on for a machine without it."""

    enabled: bool = False
    rate: float = bounded(0.5, 0.1, 60.0, doc="frames per second examined at most (HOG costs ~35 ms a frame on one "
                                               "core: 0.5 keeps 720p30 analysis above 15x real time on 2 cores)")
    min_score: float = bounded(0.5, 0.0, 10.0, doc="SVM score a detection must reach")
    motion_gated: bool = True
    motion_area: float = bounded(0.002, 0.0, 1.0,
                                 doc="fraction of the frame that must have changed since the last HOG run "
                                     "to run it again; otherwise the last result is carried forward")
    width: int = bounded(640, 64, 4096,
                         doc="frames are resized to this width for HOG (its window is 64x128 pixels, so "
                             "640 finds people about 64 pixels tall in a 320-wide analysis frame)")
    scale_factor: float = bounded(1.2, 1.01, 2.0,
                                  doc="HOG pyramid step; smaller finds people between steps better but costs more "
                                      "(1.1: ~1.8x, OpenCV's 1.05: ~3.5x)")
    overlap: float = bounded(0.4, 0.0, 1.0, doc="boxes overlapping more than this (IoU) are merged by NMS")


#: the gate compares frames this wide, blurred, ignoring grey-level changes up to _GATE_FLOOR
_GATE_WIDTH = 80
_GATE_FLOOR = 8
_WINDOW = (64, 128)


class PeopleEncoder(SampledDetector):
    """People in sampled, moving frames with the HOG pedestrian detector."""

    spec = StageSpec(
        key="people", config=PeopleConfig, modality="video",
        kinds=(EventKind("person", "durative", ("video",), FOUND_DATA, doc="a person in view"),),
        models=lambda section: [ModelInfo("people", "OpenCV HOG + default people SVM",
                                          f"built into opencv {cv2.__version__}",
                                          hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"), kind="builtin",
                                          how="reinstall opencv-python-headless")],
        resources=Resources(cpus=0.5),
    )
    kind = "person"
    summary_key = "people"

    def __init__(self, config: PeopleConfig | None = None) -> None:
        cv2.setNumThreads(1)
        self.config = config or PeopleConfig()
        super().__init__(self.config.rate)
        self._hog = cv2.HOGDescriptor()
        self._hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
        self._gate_frame: np.ndarray | None = None
        self._last: Found | None = None
        #: frames HOG actually ran on (the rest were carried forward)
        self.hog_runs = 0

    def _detect(self, frame: VideoFrame) -> Found:
        tiny = cv2.GaussianBlur(shrink(grey(frame.image), _GATE_WIDTH), (3, 3), 0)
        if (self.config.motion_gated and self._last is not None and self._gate_frame is not None
                and self._gate_frame.shape == tiny.shape):
            changed = float((cv2.absdiff(tiny, self._gate_frame) > _GATE_FLOOR).mean())
            if changed < self.config.motion_area:
                return Found(self._last.boxes, self._last.scores, extra={"carried": True})
        self._gate_frame = tiny
        self._last = self._hog_people(frame.image)
        return self._last

    def _hog_people(self, image: np.ndarray) -> Found:
        c = self.config
        self.hog_runs += 1
        scaled = resize_to_width(grey(image), c.width)
        h, w = scaled.shape
        if w < _WINDOW[0] or h < _WINDOW[1]:
            return Found()
        rects, weights = self._hog.detectMultiScale(scaled, hitThreshold=0, winStride=(8, 8), padding=(8, 8),
                                                    scale=c.scale_factor, groupThreshold=0)
        if len(rects) == 0:
            return Found()
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        good = weights >= c.min_score
        rects, weights = rects[good], weights[good]
        boxes = np.stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]], axis=1)
        keep = nms(boxes, weights, c.overlap) if len(boxes) else []
        return Found(boxes=tuple(tuple(normalised_box(*boxes[i], w, h)) for i in keep),
                     scores=tuple(1.0 - math.exp(-float(weights[i])) for i in keep))
