"""Zones: named polygons of a camera's frame, in normalised coordinates (``[x, y]``, 0-1, origin top left).

An object or a person is in a zone when the bottom centre of its box (where it stands) lies inside
the polygon (edges count as inside). :class:`ZoneTracker` looks at the camera's ``object`` and
``person`` events as they are emitted: each one that carries a box gets ``zones`` (the names, in
config order) in its evidence, and when the set changes for a tracked object the tracker makes
``zone.enter`` / ``zone.leave`` instant events at that event's media time (``label`` = the zone;
evidence: ``zone``, ``object`` (the object's label), ``track_id``, ``object_event`` (the object's
``event_id``) and ``box``). An object whose event ends leaves every zone it was in at its end time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable

from ..errors import ConfigError

#: the event types that carry a tracked box
TRACKED_TYPES = ("streamfuse.object", "streamfuse.person")


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
        self._inside: dict[str, tuple[str, ...]] = {}  # object event id -> zones it is in

    def zones_of(self, box: list[float]) -> tuple[str, ...]:
        x, y = anchor(box)
        return tuple(z.name for z in self.zones if z.contains(x, y))

    def __call__(self, event: dict[str, Any]) -> list[dict[str, Any]]:
        """The zone events ``event`` causes (after it); ``event``'s evidence gains ``zones``."""
        if not self.zones or event.get("type") not in TRACKED_TYPES:
            return []
        data = event["data"]
        key = data["event_id"]
        evidence = data.setdefault("evidence", {})
        before = self._inside.get(key, ())
        box = evidence.get("box")
        if data["phase"] == "end":
            self._inside.pop(key, None)
            now: tuple[str, ...] = ()
            at = data["end"]
            if box is not None:
                evidence["zones"] = list(self.zones_of(box))
        elif box is not None:
            now = self.zones_of(box)
            evidence["zones"] = list(now)
            self._inside[key] = now
            at = data["start"] if data["phase"] == "start" else data["end"]
        else:
            return []
        out = []
        for name in before:
            if name not in now:
                out.append(self._event("zone.leave", at, name, data, box))
        for name in now:
            if name not in before:
                out.append(self._event("zone.enter", at, name, data, box))
        return out

    def _event(self, type_: str, at: float, zone: str, data: dict[str, Any], box) -> dict[str, Any]:
        ev = data.get("evidence", {})
        evidence = {"zone": zone, "object": data.get("label", ""), "object_event": data["event_id"]}
        if "track_id" in ev:
            evidence["track_id"] = ev["track_id"]
        if box is not None:
            evidence["box"] = box
        return self.make(type_, float(at), zone, evidence)


__all__ = ["Zone", "ZoneTracker", "parse_zones", "anchor"]
