"""The bounded runner that the hostile-input tests and the fuzz harness judge memory with."""

import sys

import numpy as np

from streamfuse.testing.bounded import run_bounded

ALLOCATE = "import numpy as np, time; a = np.ones({mb} << 20, np.uint8); time.sleep(0.3)"


def test_the_peak_is_what_the_command_used():
    run = run_bounded([sys.executable, "-c", ALLOCATE.format(mb=300)], timeout=30, memory_mb=2048)
    assert run.returncode == 0, run.stderr
    assert 300 < run.peak_mb < 400


def test_a_large_caller_does_not_inflate_the_peak():
    held = np.ones(600 << 20, np.uint8)  # the caller (a test runner with models loaded) is large
    run = run_bounded([sys.executable, "-c", ALLOCATE.format(mb=50)], timeout=30, memory_mb=2048)
    assert held.sum() > 0 and run.returncode == 0, run.stderr
    assert run.peak_mb < 200


def test_the_memory_limit_holds_and_the_timeout_kills():
    run = run_bounded([sys.executable, "-c", ALLOCATE.format(mb=900)], timeout=30, memory_mb=512)
    assert run.returncode != 0 and "MemoryError" in run.stderr
    run = run_bounded([sys.executable, "-c", "import time; time.sleep(30)"], timeout=1, memory_mb=512)
    assert run.timed_out and run.seconds < 5
