"""Event snapshots: the best frame of each object, face and fused event as a JPEG beside the events.

The camera pipeline shows :class:`Snapshots` every decoded frame it takes in (kept for
``keep_seconds`` of media time, enough for an event to arrive after its frame). For an ``object`` /
``person`` event whose track's best frame (evidence ``best_time``) is still held, that frame is
written as ``<dir>/<camera>/<event_id>.jpg`` (whole frame, as analysed: ``decode.width``
pixels wide), and rewritten when a later
event of the track names a better frame; a ``face`` event, and a fused event (one that joins video
with audio or text, such as ``speaker.visible``), keeps the frame at its start. Files are written
atomically and at most ``max_files`` are kept per camera, oldest first (see :mod:`.media_files`).
The event's evidence gets ``snapshot``: ``{"path", "time", "box"}`` (``box``: the object's box in
that frame, fractions of the frame, or None) and ``url`` when the fleet's event server serves the
folder (``<server>/media/<camera>/<file>``).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..config.base import Section, bounded
from ..config.loader import build
from ..errors import ConfigError
from .media_files import MediaFolder, file_name, report_failure
from .zones import TRACKED_TYPES


@dataclass(frozen=True)
class SnapshotsConfig(Section):
    dir: str
    max_files: int = bounded(1000, 1, None, doc="snapshots kept per camera, the oldest removed first")
    quality: int = bounded(90, 1, 100, doc="JPEG quality")
    keep_seconds: float = bounded(6.0, 0.0, 60.0, lo_open=True,
                                  doc="media seconds of decoded frames held for events that arrive after their frame")

    @classmethod
    def parse(cls, spec: Any, where: str = "snapshots") -> "SnapshotsConfig | None":
        """``None``/``false``: none; a folder; or a mapping with ``dir`` and optional keys."""
        if spec in (None, False):
            return None
        if isinstance(spec, str):
            spec = {"dir": spec}
        if not isinstance(spec, dict) or not isinstance(spec.get("dir"), str):
            raise ConfigError(f"{where}: expected a folder, or a mapping with dir: and optional max_files:, quality:")
        return build(cls, spec, where)


#: the types whose start frame is kept (tracked types keep their best frame instead)
FRAME_TYPES = ("streamfuse.face",)


def wants_frame(event: dict[str, Any]) -> bool:
    """Whether an event gets a snapshot (and a clip): objects, people, faces and fused events."""
    kind = event.get("type")
    if kind in TRACKED_TYPES or kind in FRAME_TYPES:
        return True
    modalities = event.get("data", {}).get("modalities") or ()
    return "video" in modalities and len(modalities) > 1


class Snapshots:
    def __init__(self, config: SnapshotsConfig, camera: str, url: str | None = None) -> None:
        self.config = config
        self.files = MediaFolder(Path(config.dir) / camera, config.max_files, (".jpg",), "snapshots.dir")
        self.folder = self.files.folder
        self.url = url  # where the event server serves the folder, or None
        self._frames: deque[tuple[float, np.ndarray]] = deque()
        self._written: dict[str, float] = {}  # event id -> the time of the frame written
        self.written = 0
        self.failed = 0

    def see(self, time: float, image: np.ndarray) -> None:
        """Hold a decoded RGB frame at media time ``time`` (seconds)."""
        self._frames.append((time, image))
        while self._frames and self._frames[0][0] < time - self.config.keep_seconds:
            self._frames.popleft()

    def _frame_at(self, t: float, exact: bool) -> tuple[float, np.ndarray] | None:
        """The frame at ``t`` (``exact``: that very frame), else the last one at or before it."""
        best = None
        for time, image in self._frames:
            if abs(time - t) < 1e-3:
                return time, image
            if not exact and time <= t:
                best = (time, image)
        return best

    def __call__(self, event: dict[str, Any]) -> None:
        if not wants_frame(event):
            return
        data = event["data"]
        evidence = data.setdefault("evidence", {})
        key = data["event_id"]
        tracked = event["type"] in TRACKED_TYPES
        t = evidence.get("best_time") if tracked else data["start"]
        if t is None:
            return
        if key not in self._written or (tracked and self._written[key] != t):
            found = self._frame_at(float(t), exact=tracked)
            if found is not None:
                try:
                    self._write(key, found[1])
                    self._written[key] = found[0] if not tracked else t
                except OSError as exc:  # a full disk: no snapshot, the events go on
                    self.failed += 1
                    report_failure(f"snapshots in {self.folder}", self.failed, exc)
        if key in self._written:
            name = file_name(key, ".jpg")
            box = evidence.get("best_box") if tracked else (evidence.get("boxes") or [None])[0]
            shot = {"path": str(self.folder / name), "time": self._written[key],
                    "box": box if not tracked or self._written[key] == t else None}
            if self.url is not None:
                shot["url"] = f"{self.url}/{name}"
            evidence["snapshot"] = shot
        if data["phase"] in ("end", "instant"):
            self._written.pop(key, None)

    def _write(self, key: str, image: np.ndarray) -> None:
        ok, jpeg = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR),
                                [cv2.IMWRITE_JPEG_QUALITY, self.config.quality])
        if not ok:
            return
        self.files.write(file_name(key, ".jpg"), lambda tmp: Path(tmp).write_bytes(jpeg.tobytes()))
        self.written += 1


__all__ = ["Snapshots", "SnapshotsConfig", "wants_frame"]
