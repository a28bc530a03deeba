"""Object tracks over the examined frames, with ByteTrack from ``trackers`` 2.1.0 (roboflow).

One ``ByteTrackTracker`` per COCO class (the library matches boxes by IoU alone, whatever their
class, so one tracker per class keeps a car's track from continuing as a truck). Each examined
frame goes to every class's tracker, with no boxes when that class was not seen, so lost tracks
age. ByteTrack's two associations are kept: detections at or above the class's score start tracks
and continue them; detections between ``low_score`` and it only continue a track they overlap.

Time, not frames: a track missed in up to ``floor(lost_seconds * rate)`` examined frames in a
row keeps its id (the library counts its lost-track buffer in frames of the rate it is given).

The library confirms a track at its second hit (its ``minimum_consecutive_frames`` = 2; before
that the track has no id, and an unconfirmed track missed once is dropped), so an object seen in
a single examined frame is not an object. When a track is confirmed, its first hit is handed
back too (:attr:`Update.first_hits`), so the caller can report the object from the frame it was
first seen in. This reads the library's public per-track state (``tracks``, ``state``,
``tracker_id``), pinned by the version above.

Track ids are this class's own, numbered from 1 per stream (the library's counter is global to
the process and shared by every tracker in it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Hashable

import numpy as np

from ._ssd import Raw

#: the library's confirmation rule: hits before a track gets an id
CONFIRM_HITS = 2


@dataclass(frozen=True)
class Seen:
    """A tracked object in one examined frame: its track id, COCO category id, box
    ``[x0, y0, x1, y1]`` (fractions of the frame) and detector score 0-1."""

    track: int
    category: int
    box: tuple[float, float, float, float]
    score: float


@dataclass
class Update:
    """What one examined frame did: the tracked objects in it, and the first hits ``(frame key,
    Seen)`` of tracks it confirmed (seen in an earlier frame, not reported until now)."""

    seen: list[Seen] = field(default_factory=list)
    first_hits: list[tuple[Hashable, Seen]] = field(default_factory=list)


class Tracks:
    """Per-class ByteTrack over examined frames of one stream."""

    def __init__(self, rate: float, lost_seconds: float, scores: dict[int, float], low_score: float,
                 match_iou: float) -> None:
        import supervision as sv  # model-side libraries: imported when an encoder is built
        from trackers import ByteTrackTracker

        self._sv, self._make = sv, ByteTrackTracker
        #: examined frames in a row a track may be missed and keep its id
        self.max_misses = math.floor(lost_seconds * rate + 1e-9)
        self._scores = scores
        self._low = low_score
        self._match_iou = match_iou
        self._trackers: dict[int, Any] = {}
        self._ids: dict[tuple[int, int], int] = {}  # (class, library id) -> our id, for live tracks
        self._count = 0
        self._pending: dict[int, tuple[Any, Hashable, Seen]] = {}  # id(track object) -> (object, key, hit)

    def _tracker(self, category: int):
        tracker = self._trackers.get(category)
        if tracker is None:
            threshold = self._scores[category]
            # frame_rate=30 makes the library's buffer exactly lost_track_buffer frames: a track lives
            # while frames-since-update < buffer, so buffer = misses allowed + 1
            tracker = self._make(lost_track_buffer=self.max_misses + 1, frame_rate=30.0,
                                 track_activation_threshold=threshold, high_conf_det_threshold=threshold,
                                 minimum_consecutive_frames=CONFIRM_HITS, minimum_iou_threshold=self._match_iou)
            self._trackers[category] = tracker
        return tracker

    def update(self, key: Hashable, raw: Raw, width: int, height: int) -> Update:
        """Track one examined frame's detections (boxes as fractions of a ``width x height`` frame;
        the tracker works in pixels, the units its motion model is tuned for)."""
        out = Update()
        scale = np.array([width, height, width, height], dtype=np.float64)
        categories = set(self._trackers) | {int(c) for c in raw.ids if int(c) in self._scores}
        for category in sorted(categories):
            threshold = self._scores[category]
            keep = (raw.ids == category) & (raw.scores >= min(self._low, threshold))
            xyxy = raw.boxes[keep] * scale
            scores = raw.scores[keep]
            tracker = self._tracker(category)
            before = {id(t): t for t in tracker.tracks}
            detections = self._sv.Detections(xyxy=xyxy.reshape(-1, 4), confidence=scores.astype(np.float32),
                                              class_id=np.full(len(scores), category, dtype=int))
            result = tracker.update(detections)
            alive = {id(t): t for t in tracker.tracks}
            for oid, t in alive.items():
                if oid not in before:  # spawned by one of this frame's confident detections
                    j = _spawned_by(t, xyxy)
                    if j is not None:
                        hit = Seen(-1, category, _fractions(xyxy[j], scale), float(scores[j]))
                        self._pending[oid] = (t, key, hit)
            by_id = {t.tracker_id: t for t in tracker.tracks if t.tracker_id >= 0}
            for box, score, tid in zip(result.xyxy, result.confidence, result.tracker_id):
                tid = int(tid)
                if tid < 0:
                    continue
                track = self._ids.get((category, tid))
                if track is None:
                    self._count += 1
                    track = self._ids[(category, tid)] = self._count
                out.seen.append(Seen(track, category, _fractions(box, scale), float(score)))
                t = by_id.get(tid)
                pending = self._pending.pop(id(t), None) if t is not None else None
                if pending is not None and pending[0] is t:
                    _, first_key, hit = pending
                    out.first_hits.append((first_key, Seen(track, category, hit.box, hit.score)))
        live = {id(t) for tracker in self._trackers.values() for t in tracker.tracks}
        self._pending = {k: v for k, v in self._pending.items() if k in live}
        alive = {(c, t.tracker_id) for c, tracker in self._trackers.items() for t in tracker.tracks}
        self._ids = {k: v for k, v in self._ids.items() if k in alive}  # the library never reuses an id
        out.seen.sort(key=lambda s: (-s.score, s.track))
        return out


def _spawned_by(track, xyxy: np.ndarray) -> int | None:
    """The detection a new track was started from (the library copies its box into the state)."""
    state = np.asarray(track.state[:4], dtype=np.float32).reshape(4)
    same = np.flatnonzero(np.all(xyxy.astype(np.float32) == state, axis=1))
    return int(same[0]) if len(same) else None


def _fractions(box: np.ndarray, scale: np.ndarray) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in np.asarray(box, dtype=np.float64) / scale)
    return round(x0, 4), round(y0, 4), round(x1, 4), round(y1, 4)
