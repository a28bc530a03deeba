"""Decoding in a worker process: the same windows as in-process, the same errors, nothing left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading

import pytest

from streamfuse.config import load_config
from streamfuse.errors import SourceNotFoundError, StageError, UnsupportedSourceError
from streamfuse.runtime.source_process import SourceProcess
from streamfuse.runtime.source_stage import SourceStage
from streamfuse.sources.resolve import Source, resolve_inputs
from streamfuse.testing import media as gen
from streamfuse.testing.run import assert_same_windows, run_pipeline

CHEAP = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
         "encoders.objects.enabled=false", "encoders.sounds.enabled=false")


def test_worker_windows_equal_the_in_process_windows(make):
    truth = make("sample.mkv", gen.make_sample_clip)  # video, audio and an embedded subtitle track
    (source,) = resolve_inputs([str(truth.path)])
    config = load_config()
    here = list(SourceStage(source, config))
    worker = SourceProcess(source, config)
    there = list(worker)
    assert len(here) > 3 and all(w.segments for w in here[:2])
    assert_same_windows(here, there)
    assert worker.report.frames_sampled == sum(1 for w in here for f in w.frames if w.owns(f.time))


def test_user_errors_in_the_worker_are_raised_as_themselves(tmp_path):
    config = load_config()
    with pytest.raises(SourceNotFoundError):
        SourceProcess(Source(uri=str(tmp_path / "missing.mp4"), id="m", name="missing.mp4"), config)
    text = tmp_path / "notes.mp4"
    text.write_text("not a video\n" * 100)
    with pytest.raises(UnsupportedSourceError):
        SourceProcess(Source(uri=str(text), id="n", name="notes.mp4"), config)


def test_a_worker_that_dies_is_a_stage_error_not_a_hang(make):
    truth = make("sample_8s.mkv", gen.make_sample_clip, duration=8.0)
    (source,) = resolve_inputs([str(truth.path)])
    worker = SourceProcess(source, load_config())
    windows = iter(worker)
    next(windows)
    os.kill(worker._worker.process.pid, signal.SIGKILL)
    with pytest.raises(StageError, match="ended unexpectedly") as info:
        for _ in windows:
            pass
    assert info.value.stage == "source"


def test_stopping_early_ends_the_worker_and_the_reader(make):
    truth = make("sample_8s.mkv", gen.make_sample_clip, duration=8.0)
    (source,) = resolve_inputs([str(truth.path)])
    worker = SourceProcess(source, load_config())
    for window in worker:
        if window.index == 1:
            break
    process = worker._worker.process
    assert process.poll() is not None, "a worker stopped mid-source is not reused"
    assert not any(t.name == f"source:{source.name}" for t in threading.enumerate())


def test_one_worker_serves_sources_one_after_another(make):
    truth = make("sample.mkv", gen.make_sample_clip)
    (source,) = resolve_inputs([str(truth.path)])
    pids = []
    for _ in range(2):
        worker = SourceProcess(source, load_config())
        pids.append(worker._worker.process.pid)
        list(worker)
    assert pids[0] == pids[1]


def test_process_and_thread_decoding_give_the_same_events(make, tmp_path):
    truth = make("sample.mkv", gen.make_sample_clip)
    _, by_process, w1 = run_pipeline(truth.path, tmp_path / "p", *CHEAP)
    _, by_thread, w2 = run_pipeline(truth.path, tmp_path / "t", *CHEAP, "runtime.source_worker=thread")
    strip = lambda events: [{k: v for k, v in e.items() if k != "time"} for e in events]  # noqa: E731
    assert by_process and strip(by_process) == strip(by_thread)
    assert w1 == w2


def test_a_script_without_a_main_guard_works(make, tmp_path):
    """The worker is its own interpreter: the caller's script is not imported again in it."""
    truth = make("sample_3s.mkv", gen.make_sample_clip, duration=3.0)
    script = tmp_path / "quick.py"
    script.write_text(textwrap.dedent(f"""
        from streamfuse import analyze, load_config, resolve_inputs, LocalRuntime
        config = load_config(sets={list(CHEAP)!r} + ["encoders.faces.enabled=false"])
        (result,) = analyze(resolve_inputs([{str(truth.path)!r}]), config, LocalRuntime(), {str(tmp_path / "out")!r},
                            progress=False)
        print("ok" if result.ok else result.error)
    """))
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ, HF_HUB_OFFLINE="1"))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok" and "bootstrapping" not in proc.stderr
    assert (tmp_path / "out" / "sample_3s.mkv" / "events.jsonl").exists()
