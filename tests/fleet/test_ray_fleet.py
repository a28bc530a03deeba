"""A fleet on a real Ray cluster of three nodes on this machine: two loopback cameras run on
different nodes and their events reach the driver's sink under their names; when the node of one
camera leaves the cluster, that camera connects again from another node while the other camera
never stops; a node that joins takes the camera a reload adds. ``watch -c --address`` does the same
from the command line."""

from __future__ import annotations

import pickle
import re

import pytest

from streamfuse.fleet.config import camera

from .conftest import shared_data, stopped_cleanly

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _of(sink, name: str, short_type: str) -> list[dict]:
    return [e for e in sink.events if e["source"] == f"streamfuse://{name}" and e["type"] == f"streamfuse.{short_type}"]


def _seqs(sink, name: str) -> list[int]:
    return [int(e["id"].rsplit("-", 1)[1]) for e in sink.events if e["source"] == f"streamfuse://{name}"]


def test_cameras_spread_over_nodes_and_a_lost_nodes_camera_moves(ray_cluster, feed, list_sink):
    import ray

    from streamfuse.fleet.ray_fleet import RayFleet

    a, b = feed("tcp"), feed("tcp")
    data = shared_data()
    cameras = [camera("cam-a", a.url, data), camera("cam-b", b.url, data)]
    assert [pickle.loads(pickle.dumps(c)) for c in cameras] == cameras  # they travel to the nodes as they are
    moves: list[tuple[str, str, str]] = []
    fleet = RayFleet([list_sink], on_move=lambda *move: moves.append(move))
    try:
        fleet.start(cameras)
        node_of = {name: node for node in fleet.nodes.values() for name in node.cameras}
        assert node_of["cam-a"].id != node_of["cam-b"].id
        for node in node_of.values():  # each node's fleet really runs on its node
            assert ray.get(node.actor.node_id.remote(), timeout=30) == node.id
        assert list_sink.wait_for(lambda _: _of(list_sink, "cam-a", "motion") and _of(list_sink, "cam-b", "motion"),
                                  40), [e["type"] for e in list_sink.events]
        health = fleet.health()
        assert health["cam-a"]["connected"] and health["cam-b"]["connected"]
        assert health["cam-a"]["frames_in"] > 0 and health["cam-b"]["frames_in"] > 0
        assert {health[n]["node"] for n in ("cam-a", "cam-b")} == {node_of["cam-a"].label, node_of["cam-b"].label}
        scrape = fleet.metrics.render().decode()
        assert 'streamfuse_camera_connected{camera="cam-b"} 1.0' in scrape
        # the nodes' work is counted in the driver's own /metrics too, as one process would count it
        totals = {m.group(1): float(m.group(2)) for m in re.finditer(
            r"^(streamfuse_windows_total|streamfuse_frames_in_total|streamfuse_event_latency_seconds_count) (\S+)$",
            scrape, re.M)}
        assert len(totals) == 3 and all(v > 0 for v in totals.values()), totals

        # the head node cannot leave: take away the worker node of one camera
        workers = {n.node_id: n for n in ray_cluster.worker_nodes}
        moved = next(name for name in ("cam-a", "cam-b") if node_of[name].id in workers)
        other = "cam-b" if moved == "cam-a" else "cam-a"
        other_before = len(_of(list_sink, other, "motion"))
        ray_cluster.remove_node(workers[node_of[moved].id])

        assert list_sink.wait_for(lambda _: len(_of(list_sink, moved, "source.connected")) >= 2, 30), moves
        moved_before = len(_of(list_sink, moved, "motion"))  # its events flow again from the new node
        assert list_sink.wait_for(lambda _: len(_of(list_sink, moved, "motion")) > moved_before, 20)
        assert list_sink.wait_for(lambda _: len(_of(list_sink, other, "motion")) > other_before, 15)
        assert len(moves) == 1
        name, was, now = moves[0]
        assert name == moved and was == node_of[moved].label and now not in (was, None)
        health = fleet.health()
        assert health[moved]["node"] == now and health[moved]["connected"] and health[other]["connected"]

        # a node that joins takes the camera a reload adds; the running cameras stay where they are
        joined = ray_cluster.add_node(num_cpus=1)
        ray_cluster.wait_for_nodes()
        c = feed("tcp")
        before = {name: node.id for node in fleet.nodes.values() for name in node.cameras}
        assert fleet.reload([*cameras, camera("cam-c", c.url, data)]) == {"added": ["cam-c"], "removed": [],
                                                                         "changed": []}
        after = {name: node.id for node in fleet.nodes.values() for name in node.cameras}
        assert after == {**before, "cam-c": joined.node_id}
        assert list_sink.wait_for(lambda _: _of(list_sink, "cam-c", "motion"), 20)
    finally:
        stats = fleet.stop()
    assert set(stats) == {"cam-a", "cam-b", "cam-c"}
    assert {e["source"] for e in list_sink.events} == {"streamfuse://cam-a", "streamfuse://cam-b", "streamfuse://cam-c"}
    # the other camera never stopped: connected once, never lost, every event of its one run in order
    assert len(_of(list_sink, other, "source.connected")) == 1 and not _of(list_sink, other, "source.lost")
    assert _seqs(list_sink, other) == list(range(1, len(_seqs(list_sink, other)) + 1))
    # the moved camera: a first run on its lost node, then a fresh run (numbered from 1) elsewhere
    runs = [e["id"].rsplit("-", 2)[1] for e in list_sink.events if e["source"] == f"streamfuse://{moved}"]
    assert len(set(runs)) == 2


def test_watch_a_fleet_on_a_ray_cluster_from_the_command_line(ray_cluster, feed, tmp_path):
    import json
    import signal

    from live.test_watch_cli import _Watch

    from .conftest import MOTION_ONLY

    a, b = feed("tcp"), feed("tcp")
    config = tmp_path / "cameras.yaml"
    config.write_text(f"cameras:\n  front: {a.url}\n  back: {b.url}\n")
    out = tmp_path / "events.jsonl"
    watch = _Watch("-c", str(config), "--address", ray_cluster.address, "--sink", str(out),
                   *(x for s in MOTION_ONLY for x in ("--set", s)))

    def motion_from() -> set[str]:
        lines = out.read_text().splitlines() if out.exists() else []
        return {e["source"] for e in map(json.loads, lines) if e["type"] == "streamfuse.motion"}

    try:
        assert watch.wait_for_line("watching 2 cameras on 2 Ray nodes", 40), watch.lines
        assert watch.wait_for_line("connected to front", 20), watch.lines
        assert watch.wait_for_line("connected to back", 20), watch.lines
        assert list_wait(lambda: motion_from() == {"streamfuse://front", "streamfuse://back"}, 30), watch.lines
        code = watch.stop(signal.SIGINT)
    finally:
        watch.kill()
    stopped_cleanly(watch, code, "front")


def test_one_url_on_ray_is_refused_in_one_line(capsys):
    from streamfuse.cli.main import main

    assert main(["watch", "tcp://127.0.0.1:9", "--runtime", "ray"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "-c cameras.yaml" in err[0], err


def list_wait(predicate, timeout: float) -> bool:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()
