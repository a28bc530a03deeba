"""The rotating JSON-lines file sink."""

from __future__ import annotations

import json

import pytest

from streamfuse.events import validate_event
from streamfuse.sinks.base import EventSink
from streamfuse.sinks.uri import open_sink

pytestmark = pytest.mark.timeout(30)


def test_rotates_by_size_and_keeps_n(tmp_path, make_events):
    events = make_events(200, pad=200)
    sink = open_sink(f"file://{tmp_path}/out/events.jsonl", max_bytes=8192, keep=2)
    assert isinstance(sink, EventSink)
    for e in events:
        sink.emit(e)
    sink.close()
    files = sorted((tmp_path / "out").iterdir())
    assert [f.name for f in files] == ["events.jsonl", "events.jsonl.1", "events.jsonl.2"]
    kept = []
    for f in [files[2], files[1], files[0]]:  # oldest first
        assert f.stat().st_size <= 8192
        for line in f.read_text().splitlines():
            event = json.loads(line)  # every line whole
            validate_event(event)
            kept.append(event["id"])
    assert kept == [e["id"] for e in events[-len(kept):]]  # the newest, in order, none missing
    assert sink.stats()["rotations"] > 2


def test_a_bare_path_is_a_file_sink(tmp_path, make_events):
    sink = open_sink(str(tmp_path / "e.jsonl"))
    for e in make_events(3):
        sink.emit(e)
    sink.flush()
    assert len((tmp_path / "e.jsonl").read_text().splitlines()) == 3
    sink.close()
