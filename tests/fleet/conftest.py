from __future__ import annotations

from typing import Any

import pytest
import torch

from streamfuse.config.loader import _merge, parse_set

from live.conftest import CHEAP, QUICK, ListSink, feed  # noqa: F401  (fixtures and helpers reused)

torch.set_num_threads(1)

#: motion only: the cheapest pipeline that still reports the feeds' flashes
MOTION_ONLY = (*CHEAP, *QUICK, "encoders.loudness.enabled=false")


def shared_data(*sets: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    for s in (*MOTION_ONLY, *sets):
        data = _merge(data, parse_set(s))
    return data


@pytest.fixture
def list_sink() -> ListSink:
    return ListSink()


def stopped_cleanly(watch, code: int, camera: str) -> None:
    """A ``watch`` stopped with SIGINT exited 0, without a traceback, with its stop line for ``camera``."""
    assert code == 0, watch.lines
    assert not any("Traceback" in ln for ln in watch.lines), watch.lines
    assert any(ln.startswith(f"streamfuse: stopped {camera}:") for ln in watch.lines), watch.lines
