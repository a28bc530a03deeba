"""Several loopback cameras in one fleet: events named per camera, a dead camera and a dropped one
do not hold the others, a reload adds a camera while the others keep their numbering."""

from __future__ import annotations

import re
import time

from streamfuse.fleet.config import camera
from streamfuse.fleet.runner import Fleet

from .conftest import shared_data


def _sources(sink) -> set[str]:
    return {e["source"] for e in sink.events}


def _motion_from(sink, name: str) -> list:
    return [e for e in sink.events if e["source"] == f"streamfuse://{name}" and e["type"] == "streamfuse.motion"]


def test_cameras_report_under_their_names_and_one_down_does_not_stop_the_others(feed, list_sink):
    a, b = feed("tcp"), feed("tcp", flashes=(2.0,))
    data = shared_data()
    statuses: list = []
    fleet = Fleet([list_sink], on_status=lambda name, s: statuses.append((name, s.kind)))
    try:
        fleet.start([camera("cam-a", a.url, data), camera("cam-b", b.url, data),
                     camera("dead", "tcp://127.0.0.1:9", data)])
        assert list_sink.wait_for(lambda _: _motion_from(list_sink, "cam-a") and _motion_from(list_sink, "cam-b"), 20)
        assert ("dead", "retry") in statuses  # reported, retried, and nobody waited on it
        a.stop()  # camera a goes down mid-stream: b keeps delivering, a is retried
        assert list_sink.wait_for(lambda evs: any(e["source"] == "streamfuse://cam-a"
                                                  and e["type"] == "streamfuse.source.lost" for e in evs), 10)
        b_before = len(_motion_from(list_sink, "cam-b"))
        a.start()
        assert list_sink.wait_for(lambda evs: sum(e["source"] == "streamfuse://cam-a"
                                                  and e["type"] == "streamfuse.source.connected" for e in evs) >= 2, 15)
        assert list_sink.wait_for(lambda _: len(_motion_from(list_sink, "cam-b")) > b_before, 10)
        health = fleet.health()
        assert health["cam-a"]["reconnects"] == 1 and health["cam-b"]["connected"] and not health["dead"]["connected"]
        assert health["cam-b"]["frames_in"] > 0 and health["dead"]["frames_in"] == 0
        assert health["cam-b"]["last_frame_age"] < 2 and health["dead"]["last_frame_age"] is None
        scrape = fleet.metrics.render().decode()
        assert 'streamfuse_camera_connected{camera="cam-b"} 1.0' in scrape
        assert 'streamfuse_camera_connected{camera="dead"} 0.0' in scrape
        assert 'streamfuse_camera_reconnects_total{camera="cam-a"} 1.0' in scrape
    finally:
        fleet.stop()
    assert _sources(list_sink) == {"streamfuse://cam-a", "streamfuse://cam-b"}
    for name in ("cam-a", "cam-b"):  # one numbering per camera, in order, without gaps
        seqs = [int(e["id"].rsplit("-", 1)[1]) for e in list_sink.events if e["source"] == f"streamfuse://{name}"]
        assert seqs == list(range(1, len(seqs) + 1))


def test_a_reload_adds_a_camera_and_keeps_the_others_running(feed, list_sink):
    a, b = feed("tcp"), feed("tcp")
    data = shared_data()
    fleet = Fleet([list_sink])
    try:
        first = camera("cam-a", a.url, data)
        fleet.start([first])
        assert list_sink.wait_for(lambda _: _motion_from(list_sink, "cam-a"), 20)
        running = fleet.cameras["cam-a"].pipeline
        change = fleet.reload([camera("cam-a", a.url, data), camera("cam-b", b.url, data)])
        assert change == {"added": ["cam-b"], "removed": [], "changed": [], "failed": []}
        assert fleet.cameras["cam-a"].pipeline is running  # not restarted
        assert list_sink.wait_for(lambda _: _motion_from(list_sink, "cam-b"), 20)
        change = fleet.reload([camera("cam-b", b.url, data)])
        assert change["removed"] == ["cam-a"] and "cam-a" not in fleet.cameras
    finally:
        fleet.stop()
    a_ids = [e["id"] for e in list_sink.events if e["source"] == "streamfuse://cam-a"]
    assert len(set(id_.rsplit("-", 2)[1] for id_ in a_ids)) == 1  # one run of cam-a: numbering kept
    seqs = [int(i.rsplit("-", 1)[1]) for i in a_ids]
    assert seqs == list(range(1, len(seqs) + 1))


def test_a_camera_that_never_answers_delays_nobody_and_decode_errors_are_counted_per_camera(feed, list_sink):
    import os
    import socket

    silent = socket.socket()  # accepts connections (the kernel does) and never sends a byte
    silent.bind(("127.0.0.1", 0))
    silent.listen(8)
    a, b = feed("tcp"), feed("tcp")
    data = shared_data()
    fleet = Fleet([list_sink])
    try:
        t0 = time.monotonic()
        fleet.start([camera("silent", f"tcp://127.0.0.1:{silent.getsockname()[1]}", data),
                     camera("cam-a", a.url, data), camera("cam-b", b.url, data)])
        assert list_sink.wait_for(lambda _: _motion_from(list_sink, "cam-a") and _motion_from(list_sink, "cam-b"), 20)
        first_events = time.monotonic() - t0
        assert not fleet.health()["silent"]["connected"]
        for _ in range(20):  # random bytes inside camera b's TS byte stream
            b.inject(os.urandom(8000))
            time.sleep(0.05)
        assert list_sink.wait_for(lambda _: fleet.health()["cam-b"]["decode_errors"] > 0, 10), fleet.health()
        health = fleet.health()
        scrape = fleet.metrics.render().decode()
    finally:
        fleet.stop()
        silent.close()
    assert first_events < 15  # not held by the silent camera's connect timeout and retries
    assert health["cam-a"]["decode_errors"] == 0 and health["silent"]["frames_in"] == 0
    counted = re.search(r'streamfuse_camera_decode_errors_total\{camera="cam-b"\} ([0-9.]+)', scrape)
    assert counted and float(counted.group(1)) > 0


def test_a_camera_that_cannot_start_on_reload_is_reported_and_the_others_keep_running(tmp_path, list_sink):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    data = shared_data()
    errors: list = []
    fleet = Fleet([list_sink], on_error=lambda name, exc: errors.append((name, str(exc))))
    try:
        fleet.start([camera("ok", "tcp://127.0.0.1:9", data)])
        running = fleet.cameras["ok"].pipeline
        change = fleet.reload([camera("ok", "tcp://127.0.0.1:9", data),
                               camera("bad", "tcp://127.0.0.1:9", data, snapshots={"dir": str(blocker)})])
        assert change["failed"] == ["bad"] and change["added"] == []
        assert errors and errors[0][0] == "bad" and "snapshots.dir: cannot make" in errors[0][1]
        assert fleet.cameras["ok"].pipeline is running and "bad" not in fleet.cameras
    finally:
        fleet.stop()
