"""A cheap "did anything change?" test for skipping an expensive detector on a still picture."""

from __future__ import annotations

import cv2
import numpy as np

from ._frames import grey, shrink

#: frames are compared this wide, blurred, ignoring grey-level changes up to FLOOR
WIDTH = 80
FLOOR = 8


class MotionGate:
    """Says whether a frame differs from the last frame the detector ran on.

    The frames are shrunk to 80 pixels wide, blurred and compared in grey; a frame has changed
    when more than ``area`` of it moved by over 8 grey levels (sensor noise and compression stay
    below that). The first frame, and any frame of another size, always counts as changed.
    """

    def __init__(self, area: float) -> None:
        self.area = area
        self._last: np.ndarray | None = None

    def thumbnail(self, image: np.ndarray) -> np.ndarray:
        return cv2.GaussianBlur(shrink(grey(image), WIDTH), (3, 3), 0)

    def changed(self, image: np.ndarray) -> bool:
        """True when ``image`` must go to the detector (it then becomes the reference)."""
        tiny = self.thumbnail(image)
        last = self._last
        if last is not None and last.shape == tiny.shape:
            if float((cv2.absdiff(tiny, last) > FLOOR).mean()) < self.area:
                return False
        self._last = tiny
        return True

    def reset(self) -> None:
        self._last = None
