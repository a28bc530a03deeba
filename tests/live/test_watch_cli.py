"""``streamfuse watch`` as a user runs it: one-line errors with exit 2, and a clean stop on a signal."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from streamfuse.events.cloudevents import validate_event

from .conftest import CHEAP, assert_one_line_error, run_cli

#: motion only (no loudness, whose scipy import alone takes seconds here)
MOTION_ONLY = [a for s in (*CHEAP, "encoders.loudness.enabled=false") for a in ("--set", s)]


def test_an_unreachable_feed_is_one_line_and_exit_2_quickly():
    t0 = time.monotonic()
    proc = run_cli("watch", "tcp://127.0.0.1:9")
    assert_one_line_error(proc, "tcp://127.0.0.1:9", "cannot connect")
    assert time.monotonic() - t0 < 15


@pytest.mark.parametrize("args, needle", [
    (["/definitely/not/a/feed.mp4"], "not a live feed"),
    (["gopher://example.org/x"], "not supported"),
    (["tcp://127.0.0.1:9", "--sink", "bogus://x"], "unsupported sink scheme"),
    (["tcp://127.0.0.1:9", "--serve", "nonsense"], "HOST:PORT"),
    (["--serve", "nonsense", "tcp://127.0.0.1:9"], "HOST:PORT"),  # options may come before the URL
    (["tcp://127.0.0.1:9", "--set", "live.reconnect_max=-1"], "reconnect_max"),
])
def test_bad_usage_is_one_line_and_exit_2(args, needle):
    assert_one_line_error(run_cli("watch", *args), needle)


def test_help_lists_the_options():
    proc = run_cli("watch", "--help")
    assert proc.returncode == 0 and "--serve HOST:PORT" in proc.stdout and "--sink URI" in proc.stdout


def test_credentials_in_the_url_are_never_printed():
    line = assert_one_line_error(run_cli("watch", "rtsp://admin:hunter2@127.0.0.1:9/stream"), "cannot connect")
    assert "hunter2" not in line and "***@127.0.0.1" in line


class _Watch:
    """``streamfuse watch`` as a subprocess whose stderr lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "streamfuse", "watch", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._collect, daemon=True)
        self._thread.start()

    def _collect(self) -> None:
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))

    def wait_for_line(self, needle: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.proc.poll() is None:
            if any(needle in ln for ln in self.lines):
                return True
            time.sleep(0.05)
        return any(needle in ln for ln in self.lines)

    def stop(self, sig: int, timeout: float = 30) -> int:
        self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout)
        finally:
            self.kill()
        self._thread.join(5)
        return code

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def _events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_stops_watch_cleanly_with_durative_events_ended(feed, tmp_path, sig):
    f = feed("tcp")
    out = tmp_path / "events.jsonl"
    watch = _Watch(f.url, "--serve", "127.0.0.1:0", "--sink", str(out), *MOTION_ONLY)
    try:
        assert watch.wait_for_line("connected to", 30), watch.lines
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not any(
                e["type"] == "streamfuse.motion" and e["data"]["phase"] == "start" for e in _events(out)):
            time.sleep(0.1)
        code = watch.stop(sig)
    finally:
        watch.kill()
    assert code == 0, watch.lines
    assert not any("Traceback" in ln for ln in watch.lines), watch.lines
    assert any("serving events on http://127.0.0.1:" in ln for ln in watch.lines), watch.lines
    assert any(ln.startswith("streamfuse: stopped:") for ln in watch.lines), watch.lines
    events = _events(out)
    for e in events:
        validate_event(e)
    started = {e["data"]["event_id"] for e in events if e["data"]["phase"] == "start"}
    ended = {e["data"]["event_id"] for e in events if e["data"]["phase"] == "end"}
    assert any(e["type"] == "streamfuse.motion" for e in events if e["data"]["event_id"] in started)
    assert started == ended  # every durative event that started got its end before exit
