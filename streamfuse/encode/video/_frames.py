"""Helpers shared by the video encoders: a per-frame cache, a timestamp rate gate, image shapes.

Windows overlap, so every frame arrives in two (or more) consecutive windows, in time order. An
encoder analyses a frame the first time it sees it, keeps the result in a :class:`FrameCache` keyed
by the frame's exact time, and evicts everything before the current window's start: windows arrive
in order, so nothing earlier can come again, and memory stays flat on hour-long input.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Generic, TypeVar

import cv2
import numpy as np

from ...timebase import as_fraction

T = TypeVar("T")


class FrameCache(Generic[T]):
    """Per-frame results keyed by exact frame time, oldest first.

    ``is_new(t)`` tells whether a frame at ``t`` has never been seen (it is later than every frame
    seen so far); stateful analysis advances only on new frames.
    """

    def __init__(self) -> None:
        self._items: dict[Fraction, T] = {}
        self.newest: Fraction | None = None

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, time: Fraction) -> bool:
        return time in self._items

    def __getitem__(self, time: Fraction) -> T:
        return self._items[time]

    def is_new(self, time: Fraction) -> bool:
        return self.newest is None or time > self.newest

    def put(self, time: Fraction, value: T) -> None:
        if not self.is_new(time):
            raise ValueError(f"frame at {time} is not after the newest cached frame {self.newest}")
        self._items[time] = value
        self.newest = time

    def first_from(self, time: Fraction) -> T | None:
        """The result of the earliest cached frame at or after ``time`` (None: none)."""
        for t, value in self._items.items():
            if t >= time:
                return value
        return None

    def evict_before(self, time: Fraction) -> None:
        """Forget every frame earlier than ``time`` (the keys are in time order)."""
        while self._items:
            oldest = next(iter(self._items))
            if oldest >= time:
                break
            del self._items[oldest]


class RateGate:
    """Admits at most ``rate`` frames per second, chosen by timestamp, not by counting.

    Time is cut into slots of ``1 / rate`` seconds; the first frame seen in each slot is admitted.
    Jittery or variable frame rates therefore keep the same pace, and a dropped frame only shifts
    the pick to the next frame of the same slot.
    """

    def __init__(self, rate: float) -> None:
        if rate <= 0:
            raise ValueError(f"rate must be > 0, got {rate}")
        self._rate = as_fraction(rate)
        self._last_slot: int | None = None

    def admit(self, time: Fraction) -> bool:
        slot = math.floor(time * self._rate)
        if self._last_slot is not None and slot <= self._last_slot:
            return False
        self._last_slot = slot
        return True


def grey(image: np.ndarray) -> np.ndarray:
    """The RGB analysis frame as uint8 grey."""
    return cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def shrink(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` area-averaged down to ``width`` pixels wide (aspect kept); narrower ones unchanged."""
    h, w = image.shape[:2]
    if w <= width:
        return image
    height = max(1, round(h * width / w))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def resize_to_width(image: np.ndarray, width: int) -> np.ndarray:
    """``image`` resized to exactly ``width`` pixels wide (up or down, aspect kept)."""
    h, w = image.shape[:2]
    if w == width:
        return image
    height = max(1, round(h * width / w))
    interpolation = cv2.INTER_AREA if width < w else cv2.INTER_LINEAR
    return cv2.resize(image, (width, height), interpolation=interpolation)


def normalised_box(x0: float, y0: float, x1: float, y1: float, width: int, height: int) -> list[float]:
    """A pixel box ``[x0, y0, x1, y1)`` as fractions 0-1 of the frame, clipped, 4 decimals."""
    return [round(min(max(float(v) / size, 0.0), 1.0), 4)
            for v, size in ((x0, width), (y0, height), (x1, width), (y1, height))]


def nms(boxes: np.ndarray, scores: np.ndarray, overlap: float) -> list[int]:
    """Greedy non-maximum suppression: indices of the boxes kept, best score first.

    ``boxes`` are ``[x0, y0, x1, y1]`` rows. A box is dropped when its IoU with a kept box exceeds
    ``overlap``, or when one of the two lies mostly (over 70 %) inside the other, since a detector at
    several scales often reports a smaller box inside a larger one.
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    areas = np.maximum(boxes[:, 2] - boxes[:, 0], 0) * np.maximum(boxes[:, 3] - boxes[:, 1], 0)
    for i in order:
        ok = True
        for k in keep:
            ix = max(0.0, min(boxes[i, 2], boxes[k, 2]) - max(boxes[i, 0], boxes[k, 0]))
            iy = max(0.0, min(boxes[i, 3], boxes[k, 3]) - max(boxes[i, 1], boxes[k, 1]))
            inter = ix * iy
            union = areas[i] + areas[k] - inter
            smaller = min(areas[i], areas[k])
            if (union > 0 and inter / union > overlap) or (smaller > 0 and inter / smaller > 0.7):
                ok = False
                break
        if ok:
            keep.append(int(i))
    return keep
