"""Fixture clips for the core tests, generated once per session, and helpers to run the pipeline."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def make(clip_dir):
    """``make("name.ext", gen.make_x, **kw) -> Truth``, generated once per session."""
    cache: dict = {}

    def _make(name: str, fn, **kw):
        key = (name, fn.__name__, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = fn(clip_dir / name, **kw)
        return cache[key]

    return _make
