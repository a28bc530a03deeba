"""Stopping ``streamfuse analyze`` midway: one line, the conventional exit code, nothing half-written,
no decoding worker left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from streamfuse.testing import media as gen


def results(out):
    """What OUT holds besides the archive's journal (``.streamfuse``, see streamfuse.archive)."""
    from streamfuse.archive.journal import ARCHIVE_STATE
    return [p for p in out.iterdir() if p.name not in ARCHIVE_STATE]


@pytest.mark.parametrize(("sig", "code", "word"), [(signal.SIGINT, 130, "interrupted"),
                                                   (signal.SIGTERM, 143, "terminated")])
def test_stopping_analyze_midway_leaves_nothing_half_written(make, tmp_path, sig, code, word):
    truth = make("sample_30s.mkv", gen.make_sample_clip, duration=30.0)
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "streamfuse", "analyze", str(truth.path), "-o", str(out),
                             "--set", "encoders.asr.enabled=false", "--set", "encoders.text.enabled=false"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=dict(os.environ, HF_HUB_OFFLINE="1"))
    try:
        deadline, workers = time.monotonic() + 60, []
        while time.monotonic() < deadline and proc.poll() is None:
            # started: the hidden folder the result is written into, and the decoding worker
            workers = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            if workers and out.exists() and results(out):
                break
            time.sleep(0.05)
        assert proc.poll() is None and workers, "the run ended before it could be stopped"
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == code
    assert err.strip() == f"streamfuse: {word}"
    assert results(out) == [], "no result folder, finished or partial"
    for pid in workers:
        assert not os.path.exists(f"/proc/{pid}") or "zombie" in open(f"/proc/{pid}/status").read().lower()
