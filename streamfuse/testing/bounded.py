"""Run a command under a time and a memory limit, and measure what it took.

For testing how a program meets hostile input: :func:`run_bounded` starts ``argv`` in a session of
its own with its address space limited (``RLIMIT_AS``, inherited by its children), kills the whole
session when it runs past ``timeout`` seconds, and reports the exit code, the output, the wall time
and the peak resident memory of the command and its children.

The peak is read from ``/proc`` while the command runs (``VmHWM`` of the command, plus the resident
size of its children), not from ``wait4``'s ``ru_maxrss``: a child forked from a large process (a
test runner that has loaded torch) inherits the parent's high-water mark across ``exec``, so
``ru_maxrss`` would report the parent's size for every command.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from typing import Mapping, Sequence


@dataclass(frozen=True)
class Bounded:
    """What one bounded run did. ``returncode`` is negative for a signal (as in :mod:`subprocess`)."""

    returncode: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float
    timed_out: bool

    @property
    def error_lines(self) -> list[str]:
        """The ``streamfuse: error:`` lines on stderr."""
        return [ln for ln in self.stderr.splitlines() if ln.startswith("streamfuse: error:")]


def run_bounded(argv: Sequence[str], *, timeout: float, memory_mb: int, cwd: str | os.PathLike[str] | None = None,
                env: Mapping[str, str] | None = None) -> Bounded:
    """Run ``argv`` with at most ``memory_mb`` MiB of address space and ``timeout`` seconds."""
    limit = memory_mb << 20

    def limit_memory() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(list(argv), stdout=out, stderr=err, stdin=subprocess.DEVNULL, cwd=cwd,
                                env=None if env is None else dict(env), preexec_fn=limit_memory,
                                start_new_session=True)
        timed_out = False
        peak_kb = 0
        while True:
            peak_kb = max(peak_kb, _resident_kb(proc.pid))
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - start > timeout:
                timed_out = True
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.01)
        seconds = time.monotonic() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here; Popen must not wait again
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # children it left behind
        except ProcessLookupError:
            pass
        out.seek(0)
        err.seek(0)
        return Bounded(proc.returncode, out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace"),
                       seconds, (peak_kb or usage.ru_maxrss) / 1024, timed_out)


def _status_kb(pid: int | str, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def _resident_kb(pid: int) -> int:
    """The command's peak resident size so far plus what its children hold now (kB)."""
    total = _status_kb(pid, "VmHWM:")
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            children = f.read().split()
    except OSError:
        children = []
    return total + sum(_status_kb(c, "VmRSS:") for c in children)
