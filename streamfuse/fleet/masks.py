"""Masks: regions of a camera's frame hidden from every encoder (a tree in the wind, a clock).

Per camera, ``masks:`` is a list of polygons (or a mapping name -> polygon), corners ``[x, y]`` as
fractions of the frame like zones. Every decoded frame and thumbnail of the camera has the masked
pixels painted one constant grey as it arrives, before motion, detection, faces or snapshots see
it, so nothing inside a mask ever moves or is found there.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import cv2
import numpy as np

from .zones import Zone, parse_zones

FILL = 128


def parse_masks(spec: Any, where: str = "masks") -> tuple[Zone, ...]:
    if isinstance(spec, (list, tuple)):
        spec = {f"{i}": poly for i, poly in enumerate(spec)}
    elif not isinstance(spec, Mapping):
        spec = {"": spec}  # reported as not a list of corners
    return parse_zones(spec, where)


class Masker:
    def __init__(self, masks: tuple[Zone, ...]) -> None:
        self.masks = masks
        self._pixels: dict[tuple[int, int], np.ndarray] = {}

    def pixels(self, height: int, width: int) -> np.ndarray:
        """The masked pixels of a ``height x width`` picture (boolean, cached per size)."""
        key = (height, width)
        if key not in self._pixels:
            canvas = np.zeros((height, width), np.uint8)
            for m in self.masks:
                pts = np.array([[round(x * (width - 1)), round(y * (height - 1))] for x, y in m.points], np.int32)
                cv2.fillPoly(canvas, [pts], 1)
            self._pixels[key] = canvas.astype(bool)
        return self._pixels[key]

    def __call__(self, image: np.ndarray) -> np.ndarray:
        """A copy of the RGB ``image`` with the masked pixels painted grey."""
        out = image.copy()
        out[self.pixels(*image.shape[:2])] = FILL
        return out


__all__ = ["Masker", "parse_masks"]
