"""Servers that tests run as child processes (nginx, srt-live-transmit, gst-rtsp-server, brokers)."""

from __future__ import annotations

import subprocess
import time
from typing import Callable


def wait_until(ready: Callable[[], bool], proc: subprocess.Popen, seconds: float = 10.0) -> bool:
    """Poll ``ready()`` until it is true (True), ``proc`` has exited or ``seconds`` have passed (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if ready():
            return True
        time.sleep(0.02)
    return False


def stop_process(proc: subprocess.Popen | None, grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; reaps it either way."""
    if proc is None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)


__all__ = ["stop_process", "wait_until"]
