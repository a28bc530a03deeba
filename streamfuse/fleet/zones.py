"""Zones: named polygons of a camera's frame, in normalised coordinates (``[x, y]``, 0-1, origin top left).

An object or a person is in a zone when the bottom centre of its box (where it stands) lies inside
the polygon (edges count as inside). :class:`ZoneTracker` judges every analysed frame: the object
encoder's per-frame detections of a tracked object (its box in that frame) decide which zones it is
in, and when the set changes the tracker makes ``zone.enter`` / ``zone.leave`` instant events at that
frame's media time, so a crossing is reported within one analysed frame of when it happened
(``label`` = the zone; evidence: ``zone``, ``object`` (the object's label), ``track_id``,
``object_event`` (the object's ``event_id``) and ``box``, the box in that frame). The object's own
events get ``zones`` (the zones of the event's box, in config order) in their evidence; an object
whose event ends leaves every zone it was still in at that event's end time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from ..encode.base import Detection
from ..errors import ConfigError

#: the event types that carry a tracked box
TRACKED_TYPES = ("streamfuse.object", "streamfuse.person")
#: the detection kinds of a tracked box (one per analysed frame)
TRACKED_KINDS = ("object", "person")


@dataclass(frozen=True)
class Zone:
    name: str
    points: tuple[tuple[float, float], ...]

    def contains(self, x: float, y: float) -> bool:
        """Whether ``(x, y)`` is inside the polygon or on its edge (even-odd rule)."""
        pts = self.points
        inside = False
        for (x0, y0), (x1, y1) in zip(pts, pts[1:] + pts[:1]):
            if _on_segment(x, y, x0, y0, x1, y1):
                return True
            if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
                inside = not inside
        return inside


def _on_segment(x: float, y: float, x0: float, y0: float, x1: float, y1: float, eps: float = 1e-9) -> bool:
    cross = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)
    return (abs(cross) <= eps and min(x0, x1) - eps <= x <= max(x0, x1) + eps
            and min(y0, y1) - eps <= y <= max(y0, y1) + eps)


def parse_zones(spec: Any, where: str = "zones") -> tuple[Zone, ...]:
    """``{name: [[x, y], ...]}`` -> zones; a mistake is one :class:`ConfigError` line."""
    if not isinstance(spec, Mapping):
        raise ConfigError(f"{where}: expected a mapping of zone name to a list of [x, y] corners")
    zones = []
    for name, corners in spec.items():
        at = f"{where}.{name}"
        if not isinstance(corners, (list, tuple)) or len(corners) < 3:
            raise ConfigError(f"{at}: expected at least 3 corners [x, y], e.g. [[0, 0.5], [1, 0.5], [1, 1]]")
        points = []
        for i, c in enumerate(corners):
            ok = (isinstance(c, (list, tuple)) and len(c) == 2
                  and all(isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 1 for v in c))
            if not ok:
                raise ConfigError(f"{at}[{i}]: {c!r} is not a corner [x, y] with x and y between 0 and 1 "
                                  "(fractions of the frame's width and height)")
            points.append((float(c[0]), float(c[1])))
        zones.append(Zone(str(name), tuple(points)))
    return tuple(zones)


def anchor(box: list[float]) -> tuple[float, float]:
    """The point of a box ``[x0, y0, x1, y1]`` that decides its zones: the bottom centre."""
    x0, _, x1, y1 = box
    return (x0 + x1) / 2, y1


#: makes one instant event: (type, media seconds, label, evidence) -> event
MakeEvent = Callable[[str, float, str, dict[str, Any]], dict[str, Any]]


class ZoneTracker:
    """Adds ``zones`` to tracked events and makes ``zone.enter`` / ``zone.leave`` (see module doc)."""

    def __init__(self, zones: tuple[Zone, ...], make: MakeEvent) -> None:
        self.zones = zones
        self.make = make
        self._inside: dict[int, tuple[str, ...]] = {}  # track id -> zones it is in
        self._events: dict[int, str] = {}  # track id -> the object's event id

    def zones_of(self, box: list[float]) -> tuple[str, ...]:
        x, y = anchor(box)
        return tuple(z.name for z in self.zones if z.contains(x, y))

    def __call__(self, events: list[dict[str, Any]], detections: Iterable[Detection] = ()) -> list[dict[str, Any]]:
        """The zone events of one window: ``events`` are the window's events (tracked ones gain
        ``zones``), ``detections`` the encoders' detections it was fused from (one per tracked
        object per analysed frame). Returned in media-time order."""
        if not self.zones:
            return []
        ends = []
        for event in events:
            if event.get("type") not in TRACKED_TYPES:
                continue
            data = event["data"]
            evidence = data.setdefault("evidence", {})
            track = evidence.get("track_id")
            if track is not None:
                self._events[track] = data["event_id"]
            if evidence.get("box") is not None:
                evidence["zones"] = list(self.zones_of(evidence["box"]))
            if data["phase"] == "end" and track is not None:
                ends.append((data["end"], track, data))
        out = []
        for d in sorted((d for d in detections if d.kind in TRACKED_KINDS and "track_id" in d.evidence),
                        key=lambda d: d.start):
            track, box = d.evidence["track_id"], d.evidence.get("box")
            if box is None:
                continue
            before, now = self._inside.get(track, ()), self.zones_of(box)
            self._inside[track] = now
            out += self._changes(before, now, float(d.start), track, d.label or "", box, self._events.get(track))
        for at, track, data in ends:
            before = self._inside.pop(track, ())
            self._events.pop(track, None)
            out += self._changes(before, (), float(at), track, data.get("label", ""), data["evidence"].get("box"),
                                 event_id=data["event_id"])
        out.sort(key=lambda change: change[1])  # stable: one frame's leaves stay before its enters
        return [self._event(*change) for change in out]

    @staticmethod
    def _changes(before, now, at: float, track: int, label: str, box, event_id: str | None = None) -> list[tuple]:
        """The zone events (as ``_event`` arguments) of a move from ``before`` to ``now``."""
        out = [("zone.leave", at, z, track, label, box, event_id) for z in before if z not in now]
        out += [("zone.enter", at, z, track, label, box, event_id) for z in now if z not in before]
        return out

    def _event(self, type_: str, at: float, zone: str, track: int, label: str, box, event_id) -> dict[str, Any]:
        evidence: dict[str, Any] = {"zone": zone, "object": label, "track_id": track}
        if event_id is not None:
            evidence["object_event"] = event_id
        if box is not None:
            evidence["box"] = list(box)
        return self.make(type_, at, zone, evidence)


__all__ = ["Zone", "ZoneTracker", "parse_zones", "anchor"]
