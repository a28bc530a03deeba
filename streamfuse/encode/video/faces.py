"""Faces with OpenCV's bundled Haar cascades.

At most ``rate`` frames per second are examined (picked by timestamp), on the equalised grey frame,
with the frontal-face cascade (and, when ``profile`` is set, the profile cascade in both
directions). Each face's confidence is its cascade level weight (from ``detectMultiScale3`` with
``outputRejectLevels``) squashed to 0-1; faces below ``min_weight`` are dropped.

Detections: ``face`` per examined frame with faces, ``[frame.time, next examined frame)``,
confidence of the best face, evidence ``{"boxes": [[x0, y0, x1, y1] fractions 0-1], "count": n,
"scores": per box}``. Summary ``{"faces": most faces in one examined frame of the window}``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ...config.base import bounded
from ...decode.payloads import VideoFrame
from ...errors import ModelLoadError
from ...spec import EventKind, ModelInfo, Resources, StageSection, StageSpec
from ._frames import grey, nms, normalised_box
from ._sampled import FOUND_DATA, Found, SampledDetector


@dataclass(frozen=True)
class FacesConfig(StageSection):
    """Faces with OpenCV's bundled Haar cascade."""

    min_size: int = bounded(24, 8, 4096, doc="smallest face side in pixels of the analysis frame")
    min_neighbors: int = bounded(5, 1, 50)
    scale_factor: float = bounded(1.2, 1.01, 2.0, doc="cascade pyramid step; 1.1 finds a few more, costs ~2x")
    rate: float = bounded(1.0, 0.1, 120.0, doc="frames per second examined at most (the cascade costs 8-20 ms a "
                                                "320-wide frame on one core, more on busy real scenes)")
    min_weight: float = bounded(0.0, -100.0, 100.0,
                                doc="cascade level weight a face must reach (true faces score about 5-12)")
    profile: bool = False  # also run the profile-face cascade (both directions); about 5x the cost


FRONTAL = "haarcascade_frontalface_default.xml"
PROFILE = "haarcascade_profileface.xml"


def load_cascade(filename: str) -> cv2.CascadeClassifier:
    """One of the cascades that ship inside ``opencv-python``; a clear error when it is missing."""
    path = Path(cv2.data.haarcascades) / filename
    cascade = cv2.CascadeClassifier(str(path))
    if cascade.empty():
        raise ModelLoadError(f"OpenCV cascade {filename} could not be loaded from {path}; "
                             "reinstall opencv-python-headless, which ships it")
    return cascade


def _cascade_rows(section: FacesConfig) -> list[ModelInfo]:
    names = [FRONTAL] + ([PROFILE] if section.profile else [])
    rows = []
    for name in names:
        path = Path(cv2.data.haarcascades) / name
        rows.append(ModelInfo("faces", f"OpenCV Haar cascade {name}", str(path), path.is_file(),
                              how="reinstall opencv-python-headless, which ships it"))
    return rows


def weight_confidence(weight: float) -> float:
    """A cascade level weight as a confidence 0-1 (true faces score about 5-12 -> 0.8-0.99)."""
    return 1.0 / (1.0 + math.exp(-(weight - 2.0) / 2.0))


class FaceEncoder(SampledDetector):
    """Faces in sampled frames with the Haar frontal-face cascade."""

    spec = StageSpec(
        key="faces", config=FacesConfig, modality="video",
        kinds=(EventKind("face", "durative", ("video",), FOUND_DATA, doc="a face in view"),),
        models=lambda section: _cascade_rows(section),
        resources=Resources(cpus=0.5),
    )
    kind = "face"
    summary_key = "faces"

    def __init__(self, config: FacesConfig | None = None) -> None:
        cv2.setNumThreads(1)
        self.config = config or FacesConfig()
        super().__init__(self.config.rate)
        self._frontal = load_cascade(FRONTAL)
        self._profile = load_cascade(PROFILE) if self.config.profile else None

    def _detect(self, frame: VideoFrame) -> Found:
        image = cv2.equalizeHist(grey(frame.image))
        h, w = image.shape
        boxes, weights = self._run(self._frontal, image)
        if self._profile is not None:
            for flipped in (False, True):
                b, wt = self._run(self._profile, image[:, ::-1].copy() if flipped else image)
                if flipped and len(b):
                    b = np.stack([w - b[:, 2], b[:, 1], w - b[:, 0], b[:, 3]], axis=1)
                boxes, weights = np.concatenate([boxes, b]), np.concatenate([weights, wt])
        keep = nms(boxes, weights, 0.3) if len(boxes) else []
        return Found(boxes=tuple(tuple(normalised_box(*boxes[i], w, h)) for i in keep),
                     scores=tuple(weight_confidence(float(weights[i])) for i in keep))

    def _run(self, cascade: cv2.CascadeClassifier, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boxes ``[x0, y0, x1, y1]`` and level weights of the faces at or above ``min_weight``."""
        c = self.config
        if image.shape[0] < c.min_size or image.shape[1] < c.min_size:
            return np.zeros((0, 4)), np.zeros(0)
        rects, _, weights = cascade.detectMultiScale3(image, scaleFactor=c.scale_factor, minNeighbors=c.min_neighbors,
                                                      minSize=(c.min_size, c.min_size), outputRejectLevels=True)
        if len(rects) == 0:
            return np.zeros((0, 4)), np.zeros(0)
        rects = np.asarray(rects, dtype=np.float64).reshape(-1, 4)
        weights = np.asarray(weights, dtype=np.float64).reshape(-1)
        boxes = np.stack([rects[:, 0], rects[:, 1], rects[:, 0] + rects[:, 2], rects[:, 1] + rects[:, 3]], axis=1)
        good = weights >= c.min_weight
        return boxes[good], weights[good]
