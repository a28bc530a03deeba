"""Decoded frame -> analysis-size RGB array, as cheaply as the pixel format allows."""

from __future__ import annotations

import cv2
import numpy as np

cv2.setNumThreads(1)

_I420 = frozenset({"yuv420p", "yuvj420p"})


def _plane(frame, index: int, height: int, width: int) -> np.ndarray:
    """A plane of ``frame`` as a (height, width) view of the decoder's buffer (no copy)."""
    plane = frame.planes[index]
    return np.frombuffer(plane, np.uint8).reshape(-1, plane.line_size)[:height, :width]


def to_rgb(frame, width: int, height: int) -> np.ndarray:
    """``frame`` (a PyAV VideoFrame) resized to ``width`` x ``height`` RGB uint8.

    4:2:0 frames (almost every camera and codec) are shrunk plane by plane, straight from the
    decoder's buffers, with OpenCV's bilinear filter, and converted to RGB once at the small size:
    several times cheaper than swscale converting at full size. Colours use BT.601 coefficients,
    which is fine for analysis. Other pixel formats, odd sizes and upscaling go through swscale.
    """
    w, h = frame.width, frame.height
    fast = (frame.format.name in _I420 and w % 2 == 0 and h % 2 == 0 and width % 2 == 0
            and height % 2 == 0 and width <= w and height <= h)
    if not fast:
        return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="AREA")
    y = cv2.resize(_plane(frame, 0, h, w), (width, height), interpolation=cv2.INTER_LINEAR)
    u = cv2.resize(_plane(frame, 1, h // 2, w // 2), (width // 2, height // 2), interpolation=cv2.INTER_LINEAR)
    v = cv2.resize(_plane(frame, 2, h // 2, w // 2), (width // 2, height // 2), interpolation=cv2.INTER_LINEAR)
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)


def to_thumbnail(frame, width: int) -> np.ndarray:
    """``frame`` as a ``width``-wide RGB thumbnail (even height, aspect kept), cheaply: the planes
    are read at a stride first (about 4 source pixels per thumbnail pixel each way are then
    averaged), so a 1080p frame costs about what a 320-wide one does."""
    w, h = frame.width, frame.height
    height = max(2, round(h * width / max(w, 1)) // 2 * 2)
    if frame.format.name not in _I420 or w % 2 or h % 2 or w < width or h < height:
        return frame.to_ndarray(format="rgb24", width=width, height=height, interpolation="FAST_BILINEAR")
    step = max(1, w // (4 * width))
    step -= step % 2 if step > 1 else 0  # even, so the chroma planes (half size) take every step // 2 sample
    y = cv2.resize(_plane(frame, 0, h, w)[::step, ::step], (width, height), interpolation=cv2.INTER_AREA)
    half = max(1, step // 2)
    u = cv2.resize(_plane(frame, 1, h // 2, w // 2)[::half, ::half], (width // 2, height // 2),
                   interpolation=cv2.INTER_AREA)
    v = cv2.resize(_plane(frame, 2, h // 2, w // 2)[::half, ::half], (width // 2, height // 2),
                   interpolation=cv2.INTER_AREA)
    i420 = np.concatenate([y.reshape(-1), u.reshape(-1), v.reshape(-1)]).reshape(height * 3 // 2, width)
    return cv2.cvtColor(i420, cv2.COLOR_YUV2RGB_I420)
