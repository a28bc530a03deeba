"""Scoring what the pipeline reported against stated truth: event times, spans, matches.

For tests and the accuracy benchmarks. Everything here reads the public results of ``analyze``
(``events.jsonl``, ``windows.jsonl``: CloudEvents with ``data.start`` / ``data.end`` in media
seconds), so it holds whatever stage produced the events. Times are float seconds, as the
results files carry them; spans are half-open ``(start, end)`` pairs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

Span = tuple[float, float]


def load_results(folder: str | Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The events and window records of one ``analyze`` result folder."""
    folder = Path(folder)
    read = lambda name: [json.loads(x) for x in (folder / name).read_text().splitlines() if x.strip()]  # noqa: E731
    return read("events.jsonl"), read("windows.jsonl")


def label_of(event: dict[str, Any]) -> str | None:
    """The class an event names (``data.label``, or ``data.evidence.label``), if any."""
    data = event["data"]
    return data.get("label") or (data.get("evidence") or {}).get("label")


def of_kind(events: Iterable[dict[str, Any]], kind: str, label: str | None = None) -> list[dict[str, Any]]:
    """Events of type ``streamfuse.<kind>`` (with that ``label`` when one is given)."""
    return [e for e in events if e["type"] == f"streamfuse.{kind}" and (label is None or label_of(e) == label)]


def spans_by_id(events: Iterable[dict[str, Any]]) -> dict[str, Span]:
    """One span per ``event_id``: a durative event's start / update / end phases joined (the
    earliest start, the latest end); an instant event's own ``[start, end]``."""
    out: dict[str, Span] = {}
    for e in events:
        d = e["data"]
        key = d.get("event_id") or e["id"]
        a, b = out.get(key, (d["start"], d["end"]))
        out[key] = (min(a, d["start"]), max(b, d["end"]))
    return out


def onsets(events: Iterable[dict[str, Any]]) -> list[float]:
    """The start time of each distinct event (by ``event_id``), sorted."""
    return sorted(a for a, _ in spans_by_id(events).values())


def union(spans: Iterable[Span]) -> list[Span]:
    """Overlapping or touching spans merged, sorted; empty spans dropped."""
    out: list[list[float]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def length(spans: Iterable[Span]) -> float:
    """Seconds covered by ``spans`` (overlaps counted once)."""
    return float(sum(b - a for a, b in union(spans)))


def clip(spans: Iterable[Span], start: float, end: float) -> list[Span]:
    """``spans`` cut to ``[start, end)``."""
    return union((max(a, start), min(b, end)) for a, b in spans)


def intersection(x: Iterable[Span], y: Iterable[Span]) -> float:
    """Seconds covered by both ``x`` and ``y``."""
    x, y = union(x), union(y)
    return sum(max(0.0, min(b, d) - max(a, c)) for a, b in x for c, d in y)


def iou(truth: Iterable[Span], found: Iterable[Span]) -> float | None:
    """Intersection over union of two sets of spans; ``None`` when both are empty."""
    truth, found = union(truth), union(found)
    both = intersection(truth, found)
    either = length(truth) + length(found) - both
    return both / either if either > 0 else None


@dataclass(frozen=True)
class Matched:
    """Reported times matched one-to-one to true times within a tolerance."""

    truth: int
    found: int
    pairs: tuple[tuple[float, float], ...]  # (true time, reported time)

    @property
    def hits(self) -> int:
        return len(self.pairs)

    @property
    def precision(self) -> float | None:
        return self.hits / self.found if self.found else None

    @property
    def recall(self) -> float | None:
        return self.hits / self.truth if self.truth else None

    @property
    def f1(self) -> float | None:
        if not self.truth and not self.found:
            return None
        return 2 * self.hits / (self.truth + self.found)

    @property
    def errors(self) -> list[float]:
        """Reported minus true time of each match, seconds."""
        return [f - t for t, f in self.pairs]


def match_times(truth: Sequence[float], found: Sequence[float], tolerance: float) -> Matched:
    """Pair each true time with at most one reported time at most ``tolerance`` away, closest
    pairs first (a greedy assignment, which is optimal when the true times are further apart than
    twice the tolerance)."""
    candidates = sorted((abs(f - t), i, j) for i, t in enumerate(truth) for j, f in enumerate(found)
                        if abs(f - t) <= tolerance + 1e-9)
    used_t: set[int] = set()
    used_f: set[int] = set()
    pairs = []
    for _, i, j in candidates:
        if i not in used_t and j not in used_f:
            used_t.add(i)
            used_f.add(j)
            pairs.append((float(truth[i]), float(found[j])))
    return Matched(len(truth), len(found), tuple(sorted(pairs)))


def fired_in(spans: Iterable[Span], times: Iterable[float]) -> int:
    """How many of ``spans`` contain at least one of ``times`` (closed at both ends)."""
    times = sorted(times)
    return sum(any(a <= t <= b for t in times) for a, b in spans)
