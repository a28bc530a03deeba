"""Zones: the bottom centre of a box decides; enter/leave at the analysed frame where it changes;
a real person crossing into a zone."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from streamfuse.encode.base import Detection
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


def _seen(at: float, box) -> Detection:
    return Detection("person", Fraction(at), Fraction(at) + Fraction(1, 4), 0.9, label="person",
                     evidence={"track_id": 1, "box": box}, track="1")


def test_polygon_edges_count_and_the_anchor_is_the_bottom_centre():
    left, floor = parse_zones(LEFT)
    assert left.contains(0.5, 0.3) and left.contains(0.0, 0.0) and not left.contains(0.51, 0.3)
    tracker = ZoneTracker((left, floor), _maker([]))
    assert tracker.zones_of([0.1, 0.1, 0.3, 0.5]) == ("left",)          # feet at (0.2, 0.5)
    assert tracker.zones_of([0.6, 0.1, 0.9, 0.95]) == ("floor",)        # feet at (0.75, 0.95)
    assert tracker.zones_of([0.0, 0.0, 0.4, 0.9]) == ("left", "floor")  # head outside does not matter


def test_zones_change_at_the_analysed_frame_where_the_box_moved_and_end_with_the_object():
    made: list = []
    tracker = ZoneTracker(parse_zones(LEFT), _maker(made))
    start = _person("start", 1.0, 1.5, [0.1, 0.1, 0.3, 0.5])
    entered = tracker([start], [_seen(1.0, [0.1, 0.1, 0.3, 0.5]), _seen(1.25, [0.15, 0.1, 0.35, 0.5])])
    assert [(e["type"], e["data"]["label"], e["data"]["start"]) for e in entered] == [
        ("streamfuse.zone.enter", "left", 1.0)]
    assert start["data"]["evidence"]["zones"] == ["left"]
    # the box moves in the second frame of the next window: the change is at that frame, not the window's end
    moved = tracker([_person("update", 1.0, 2.0, [0.6, 0.5, 0.8, 0.9])],
                    [_seen(1.5, [0.2, 0.1, 0.4, 0.5]), _seen(1.75, [0.6, 0.5, 0.8, 0.9])])
    assert [(e["type"], e["data"]["label"], e["data"]["start"]) for e in moved] == [
        ("streamfuse.zone.leave", "left", 1.75), ("streamfuse.zone.enter", "floor", 1.75)]
    ended = tracker([_person("end", 1.0, 2.25, [0.6, 0.5, 0.8, 0.9])], [_seen(2.0, [0.6, 0.5, 0.8, 0.9])])
    assert [(e["type"], e["data"]["label"], e["data"]["start"]) for e in ended] == [
        ("streamfuse.zone.leave", "floor", 2.25)]
    for e in made:
        validate_event(e)
        evidence = e["data"]["evidence"]
        assert evidence["object"] == "person" and evidence["track_id"] == 1 and evidence["object_event"] == "cam-person-1"


def test_one_windows_zone_events_come_in_media_time_order_across_tracks():
    made: list = []
    tracker = ZoneTracker(parse_zones(LEFT), _maker(made))
    other = Detection("person", Fraction(1), Fraction(5, 4), 0.9, label="person",
                      evidence={"track_id": 2, "box": [0.6, 0.1, 0.8, 0.5]}, track="2")
    tracker([_person("start", 1.0, 1.25, [0.1, 0.1, 0.3, 0.5])], [_seen(1.0, [0.1, 0.1, 0.3, 0.5]), other])
    # track 1 ends at 1.5 while track 2 moves into the left zone at 1.75, reported in the same window
    ended = _person("end", 1.0, 1.5, [0.1, 0.1, 0.3, 0.5])
    moved = Detection("person", Fraction(7, 4), Fraction(2), 0.9, label="person",
                      evidence={"track_id": 2, "box": [0.2, 0.1, 0.4, 0.5]}, track="2")
    out = tracker([ended], [moved])
    assert [(e["data"]["start"], e["type"], e["data"]["evidence"]["track_id"]) for e in out] == [
        (1.5, "streamfuse.zone.leave", 1), (1.75, "streamfuse.zone.enter", 2)]
    seqs = [int(e["id"].rsplit("-", 1)[1]) for e in made]
    assert seqs == sorted(seqs)  # numbered in the order they are emitted


@pytest.mark.skipif(not (MEDIA / "asl" / "again.mkv").is_file(), reason="needs ../shared/media")
def test_a_real_person_crossing_into_a_zone_enters_it_within_one_analysed_frame():
    """A real frame of asl/again.mkv (one person standing in the middle) slides left to right across
    a grey canvas twice its width at a known speed, so where the person stands is known at every
    instant; the zone is the canvas's right half. The person's anchor inside the asl frame is taken
    from the detector on the still frame; from it and the speed, the crossing time is known."""
    import av

    from streamfuse.encode.video.objects import ObjectsConfig, ObjectsEncoder
    from streamfuse.testing.windows import windows_from_frames

    with av.open(str(MEDIA / "asl" / "again.mkv")) as c:
        still = next(c.decode(video=0)).to_ndarray(format="rgb24")
    h, w = still.shape[:2]
    rate, fps, speed = 4, 20, w / 4.0  # analysed frames a second, frames a second, pixels a second
    canvas_w = 2 * w
    at_rest = ObjectsEncoder(ObjectsConfig(rate=rate, motion_gated=False))
    rest = windows_from_frames([(Fraction(i, fps), still) for i in range(fps)], 1, 1)[0]
    people = [d for d in at_rest(rest).detections if d.label == "person"]
    assert people and len({d.evidence["track_id"] for d in people}) == 1
    anchor_in_still = (people[0].evidence["box"][0] + people[0].evidence["box"][2]) / 2 * w  # pixels
    crossing = (canvas_w / 2 - anchor_in_still) / speed  # when the feet pass the canvas's middle

    def frame(t: float) -> np.ndarray:
        image = np.full((h, canvas_w, 3), 128, np.uint8)
        x = int(round(speed * t))
        image[:, x:x + w] = still
        return image

    times = [Fraction(i, fps) for i in range(int(4 * fps))]
    made: list = []
    tracker = ZoneTracker(parse_zones({"right": [[0.5, 0], [1, 0], [1, 1], [0.5, 1]],
                                       "left": [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]}), _maker(made))
    encoder = ObjectsEncoder(ObjectsConfig(rate=rate, motion_gated=False))
    for window in windows_from_frames([(t, frame(float(t))) for t in times], 1, 1):
        tracker([], encoder(window).detections)
    changes = [(e["type"].removeprefix("streamfuse."), e["data"]["label"], e["data"]["start"]) for e in made]
    assert [c[:2] for c in changes] == [("zone.enter", "left"), ("zone.leave", "left"), ("zone.enter", "right")]
    assert changes[0][2] == 0.0
    left_at, entered_at = changes[1][2], changes[2][2]
    assert left_at == entered_at  # one analysed frame: out of one zone and into the other
    # the first analysed frame at or after the crossing (slack: the box's own error, 5 % of the still's width)
    slack = 0.05 * w / speed
    assert crossing - slack <= entered_at < crossing + 1 / rate + slack, (crossing, entered_at)
