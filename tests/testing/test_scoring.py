"""The scoring helpers give the figures worked out by hand here."""

from __future__ import annotations

import pytest

from streamfuse.testing.scoring import fired_in, iou, length, match_times, of_kind, onsets, spans_by_id, union


def event(kind, event_id, phase, start, end, **data):
    return {"type": f"streamfuse.{kind}", "id": f"x-{event_id}-{phase}",
            "data": {"event_id": event_id, "phase": phase, "start": start, "end": end, **data}}


def test_durative_phases_join_into_one_span_per_event_id():
    events = [event("person", "p1", "start", 1.0, 2.0), event("person", "p1", "update", 1.0, 5.0),
              event("person", "p1", "end", 1.0, 6.5), event("person", "p2", "start", 8.0, 9.0),
              event("object", "o1", "start", 0.0, 1.0, label="car"), event("object", "o2", "start", 3.0, 4.0,
                                                                             label="bicycle")]
    assert spans_by_id(of_kind(events, "person")) == {"p1": (1.0, 6.5), "p2": (8.0, 9.0)}
    assert spans_by_id(of_kind(events, "object", "car")) == {"o1": (0.0, 1.0)}
    assert onsets(of_kind(events, "person")) == [1.0, 8.0]


def test_span_arithmetic():
    assert union([(3, 4), (0, 1), (0.5, 2), (2, 2.5), (5, 5)]) == [(0, 2.5), (3, 4)]
    assert length([(0, 2), (1, 3)]) == 3
    assert iou([(0, 4)], [(2, 6)]) == pytest.approx(2 / 6)
    assert iou([(0, 4)], []) == 0 and iou([], []) is None


def test_times_match_one_to_one_within_the_tolerance():
    m = match_times([1.0, 2.0, 3.0], [1.05, 1.08, 2.5, 2.95], tolerance=0.1)
    assert m.pairs == ((1.0, 1.05), (3.0, 2.95))  # 1.08 is left over: 1.0 is taken; 2.5 is too far from 2.0
    assert (m.hits, m.precision, m.recall, m.f1) == (2, 0.5, pytest.approx(2 / 3), pytest.approx(4 / 7))
    assert m.errors == [pytest.approx(0.05), pytest.approx(-0.05)]
    assert fired_in([(0.9, 1.1), (4, 5)], [1.08, 2.5]) == 1
