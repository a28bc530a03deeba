"""The batch on Ray workers: files spread over workers; a worker killed mid-file has that file
retried on another, and the final results hold every event once, as a clean run does."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from .conftest import events, hidden_leftovers, results

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def _config(out):
    from streamfuse.config.loader import load_config
    return load_config([], ["encoders.enabled=false", "runtime.source_worker=thread"],
                       output={"directory": str(out)})


def _comparable(evs):
    return [(e["id"], e["type"], e["data"]) for e in evs]  # all but the wall-clock time


def test_worker_killed_mid_file_is_retried_elsewhere_with_no_lost_or_doubled_event(media, tmp_path, ray_session):
    from streamfuse.archive.batch import run_batch
    from streamfuse.sources.resolve import resolve_inputs

    long_clip = media / "intel" / "car-detection.mp4"  # 30 s: long enough to be killed mid-file
    inputs = [str(long_clip), *map(str, sorted((media / "asl").glob("*.mkv"))[:2])]
    sources = resolve_inputs(inputs)
    reference = run_batch(sources[:1], _config(tmp_path / "ref"), tmp_path / "ref", runtime="local", index=False)
    assert reference.exit_code == 0

    out = tmp_path / "out"
    killed: list[int] = []

    def kill_when_writing(task, pool) -> None:
        if task.source.name != long_clip.name or killed:
            return
        pid = pool.running()[task.source.name]

        def watch() -> None:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:  # its partial result folder exists: mid-file
                if any(p.name.startswith(f".{long_clip.name}.partial-") for p in out.iterdir()):
                    time.sleep(0.05)
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
                    return
                time.sleep(0.01)
        threading.Thread(target=watch, daemon=True).start()

    report = run_batch(sources, _config(out), out, runtime="ray", workers=2, on_dispatch=kill_when_writing)
    assert killed, "the worker was never killed"
    assert report.retried == 1 and report.exit_code == 0 and not report.failures
    assert sorted(results(out)) == sorted(s.name for s in sources)
    assert hidden_leftovers(out) == []
    got = events(out / long_clip.name)
    assert len({e["id"] for e in got}) == len(got)  # no duplicate
    assert _comparable(got) == _comparable(events(tmp_path / "ref" / long_clip.name))  # none missing
