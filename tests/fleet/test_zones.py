"""Zones: the bottom centre of a box decides; enter/leave events when it changes; a real clip."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamfuse.config.loader import load_config
from streamfuse.events.cloudevents import make_event, validate_event
from streamfuse.fleet.zones import ZoneTracker, parse_zones

MEDIA = Path(__file__).resolve().parents[2] / ".." / "shared" / "media"
LEFT = {"left": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]], "floor": [[0, 0.8], [1, 0.8], [1, 1], [0, 1]]}


def _maker(made: list):
    def make(type_, at, label, evidence):
        ev = make_event(source_id="cam", subject="cam", type=type_, seq=len(made) + 1, phase="instant",
                        event_id=f"cam-{type_}-{len(made) + 1}", start=at, end=at, confidence=1.0,
                        modalities=("video",), label=label, evidence=evidence)
        made.append(ev)
        return ev
    return make


def _person(phase: str, start: float, end: float, box) -> dict:
    return make_event(source_id="cam", subject="cam", type="person", seq=1, phase=phase, event_id="cam-person-1",
                      start=start, end=end, confidence=0.9, modalities=("video",), label="person",
                      evidence={"track_id": 1, "box": box})


def test_polygon_edges_count_and_the_anchor_is_the_bottom_centre():
    left, floor = parse_zones(LEFT)
    assert left.contains(0.5, 0.3) and left.contains(0.0, 0.0) and not left.contains(0.51, 0.3)
    tracker = ZoneTracker((left, floor), _maker([]))
    assert tracker.zones_of([0.1, 0.1, 0.3, 0.5]) == ("left",)          # feet at (0.2, 0.5)
    assert tracker.zones_of([0.6, 0.1, 0.9, 0.95]) == ("floor",)        # feet at (0.75, 0.95)
    assert tracker.zones_of([0.0, 0.0, 0.4, 0.9]) == ("left", "floor")  # head outside does not matter


def test_an_object_enters_and_leaves_zones_at_its_event_times():
    made: list = []
    tracker = ZoneTracker(parse_zones(LEFT), _maker(made))
    start = _person("start", 1.0, 2.0, [0.1, 0.1, 0.3, 0.5])
    assert [e["data"]["label"] for e in tracker(start)] == ["left"]
    assert start["data"]["evidence"]["zones"] == ["left"]
    moved = tracker(_person("update", 1.0, 3.0, [0.6, 0.5, 0.8, 0.9]))
    assert [(e["type"], e["data"]["label"], e["data"]["start"]) for e in moved] == [
        ("streamfuse.zone.leave", "left", 3.0), ("streamfuse.zone.enter", "floor", 3.0)]
    ended = tracker(_person("end", 1.0, 4.0, [0.6, 0.5, 0.8, 0.9]))
    assert [(e["type"], e["data"]["label"], e["data"]["start"]) for e in ended] == [
        ("streamfuse.zone.leave", "floor", 4.0)]
    for e in made:
        validate_event(e)
        assert e["data"]["evidence"]["object"] == "person" and e["data"]["evidence"]["track_id"] == 1


@pytest.mark.skipif(not (MEDIA / "asl" / "again.mkv").is_file(), reason="needs ../shared/media")
def test_a_real_person_on_a_real_clip_is_in_the_zone_where_they_stand():
    """asl/again.mkv: one person standing facing the camera, in the middle, for the whole clip."""
    from streamfuse.runtime.local import LocalRuntime
    from streamfuse.sources.resolve import resolve_inputs

    config = load_config(sets=["encoders.asr.enabled=false", "encoders.text.enabled=false",
                               "encoders.faces.enabled=false", "encoders.vad.enabled=false",
                               "encoders.sounds.enabled=false", "encoders.loudness.enabled=false",
                               "runtime.source_worker=thread"])
    zones = parse_zones({"middle": [[0.3, 0.5], [0.7, 0.5], [0.7, 1.0], [0.3, 1.0]],
                         "door": [[0.0, 0.0], [0.2, 0.0], [0.2, 1.0], [0.0, 1.0]]})
    made: list = []
    tracker = ZoneTracker(zones, _maker(made))
    people = []

    def on_window(window, fused):
        for e in fused.events:
            tracker(e)
            if e["type"] == "streamfuse.person":
                people.append(e)

    LocalRuntime().run(resolve_inputs([str(MEDIA / "asl" / "again.mkv")])[0], config, on_window)
    assert people and all(p["data"]["evidence"]["zones"] == ["middle"] for p in people)
    kinds = [(e["type"].removeprefix("streamfuse."), e["data"]["label"]) for e in made]
    assert kinds == [("zone.enter", "middle"), ("zone.leave", "middle")]
    assert made[0]["data"]["start"] < 0.5 and made[1]["data"]["start"] > 2.0  # in view the whole clip
