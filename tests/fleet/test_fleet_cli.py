"""``streamfuse watch -c cameras.yaml``: every camera's events in one sink, named per camera; an
edit of the file adds a camera while the process runs; SIGINT stops them all with exit 0."""

from __future__ import annotations

import json
import re
import signal
import time
import urllib.request

from live.test_watch_cli import _Watch

from .conftest import MOTION_ONLY, stopped_cleanly


def _events(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _yaml(cameras: dict[str, str]) -> str:
    lines = ["cameras:"] + [f"  {name}: {url}" for name, url in cameras.items()]
    return "\n".join(lines) + "\n"


def test_watch_a_fleet_and_add_a_camera_by_editing_the_file(feed, tmp_path):
    a, b = feed("tcp"), feed("tcp")
    config = tmp_path / "cameras.yaml"
    config.write_text(_yaml({"front": a.url}))
    out = tmp_path / "events.jsonl"
    watch = _Watch("-c", str(config), "--sink", str(out), "--serve", "127.0.0.1:0",
                   *(x for s in MOTION_ONLY for x in ("--set", s)))
    try:
        assert watch.wait_for_line("connected to front", 40), watch.lines
        base = next(m.group(1) for ln in watch.lines if (m := re.search(r"(http://127\.0\.0\.1:\d+)/events", ln)))
        deadline = time.monotonic() + 15  # "connected" comes before the first frame is counted
        while True:
            with urllib.request.urlopen(f"{base}/health", timeout=10) as r:
                front = json.loads(r.read())["cameras"]["front"]
            if front["frames_in"] > 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert front["connected"] and front["frames_in"] > 0
        config.write_text(_yaml({"front": a.url, "back": b.url}))
        assert watch.wait_for_line("reloaded: added back", 15), watch.lines
        assert watch.wait_for_line("connected to back", 20), watch.lines
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not {"streamfuse://back", "streamfuse://front"} <= {
                e["source"] for e in _events(out) if e["type"] == "streamfuse.motion"}:
            time.sleep(0.2)
        code = watch.stop(signal.SIGINT)
    finally:
        watch.kill()
    stopped_cleanly(watch, code, "front")
    events = _events(out)
    assert {e["source"] for e in events if e["type"] == "streamfuse.motion"} == {"streamfuse://front",
                                                                                "streamfuse://back"}
    runs = {e["id"].rsplit("-", 2)[1] for e in events if e["source"] == "streamfuse://front"}
    assert len(runs) == 1  # front was not restarted by the reload
