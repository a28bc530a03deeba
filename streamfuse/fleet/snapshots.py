"""Event snapshots: the best frame of each tracked object or person as a JPEG beside the events.

The camera pipeline shows :class:`Snapshots` every decoded frame it takes in (kept for
``keep_seconds`` of media time, enough for an object event to arrive after its frame); for every
``object`` / ``person`` event whose track's best frame (evidence ``best_time``) is still held, the
frame is written as ``<dir>/<camera>/<event_id>.jpg`` (whole frame, as analysed), atomically
(a temporary file, then a rename), and rewritten when a later event of the track names a better
frame. The event's evidence gets ``snapshot``: ``{"path", "time", "box"}`` (``box`` = the best box,
fractions of the frame). At most ``max_files`` snapshots are kept per camera, the oldest removed first.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError
from .zones import TRACKED_TYPES


@dataclass(frozen=True)
class SnapshotsConfig:
    dir: str
    max_files: int = 1000
    quality: int = 90
    keep_seconds: float = 6.0

    @classmethod
    def parse(cls, spec: Any, where: str = "snapshots") -> "SnapshotsConfig | None":
        if spec in (None, False):
            return None
        if isinstance(spec, str):
            spec = {"dir": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("dir"), str):
            raise ConfigError(f"{where}: expected a folder, or a mapping with dir: and optional max_files:, quality:")
        unknown = set(spec) - {"dir", "max_files", "quality", "keep_seconds"}
        if unknown:
            raise ConfigError(f"{where}: unknown key {sorted(unknown)[0]!r}; known: dir, max_files, quality, keep_seconds")
        out = cls(**spec)
        if not (isinstance(out.max_files, int) and out.max_files >= 1):
            raise ConfigError(f"{where}.max_files: {out.max_files!r} must be a whole number >= 1")
        if not (isinstance(out.quality, int) and 1 <= out.quality <= 100):
            raise ConfigError(f"{where}.quality: {out.quality!r} must be between 1 and 100")
        if not (isinstance(out.keep_seconds, (int, float)) and 0 < out.keep_seconds <= 60):
            raise ConfigError(f"{where}.keep_seconds: {out.keep_seconds!r} must be above 0 and at most 60")
        return out


_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class Snapshots:
    def __init__(self, config: SnapshotsConfig, camera: str) -> None:
        self.config = config
        self.folder = Path(config.dir) / camera
        self._frames: deque[tuple[float, np.ndarray]] = deque()
        self._written: dict[str, float] = {}  # object event id -> best time written
        self._files: OrderedDict[Path, None] = OrderedDict()
        self.written = 0

    def see(self, time: float, image: np.ndarray) -> None:
        """Hold a decoded RGB frame at media time ``time`` (seconds)."""
        self._frames.append((time, image))
        while self._frames and self._frames[0][0] < time - self.config.keep_seconds:
            self._frames.popleft()

    def _frame_at(self, t: float) -> np.ndarray | None:
        best = None
        for time, image in self._frames:
            if abs(time - t) < 1e-3:
                best = image
        return best

    def __call__(self, event: dict[str, Any]) -> None:
        if event.get("type") not in TRACKED_TYPES:
            return
        data = event["data"]
        evidence = data.get("evidence") or {}
        t, key = evidence.get("best_time"), data["event_id"]
        if t is None:
            return
        path = self.folder / f"{_SAFE.sub('_', key)}.jpg"
        if self._written.get(key) != t:
            image = self._frame_at(float(t))
            if image is not None:
                self._write(path, image)
                self._written[key] = t
        if key in self._written:
            evidence["snapshot"] = {"path": str(path), "time": self._written[key],
                                    "box": evidence.get("best_box") if self._written[key] == t else None}
        if data["phase"] == "end":
            self._written.pop(key, None)

    def _write(self, path: Path, image: np.ndarray) -> None:
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, self.config.quality])
        if not ok:
            return
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".snap-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(jpeg.tobytes())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self.written += 1
        self._files.pop(path, None)
        self._files[path] = None
        while len(self._files) > self.config.max_files:
            old, _ = self._files.popitem(last=False)
            old.unlink(missing_ok=True)


__all__ = ["Snapshots", "SnapshotsConfig"]
