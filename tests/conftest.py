"""Shared test set-up: offline models, the real media folder, one Ray session per test run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

ROOT = Path(__file__).resolve().parents[1]
MEDIA = ROOT.parent / "shared" / "media"


@pytest.fixture(scope="session")
def media() -> Path:
    """The real recorded clips in ../shared/media (never copied into the repo)."""
    if not MEDIA.is_dir():
        pytest.skip(f"real media folder {MEDIA} is missing")
    return MEDIA


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def make(clip_dir):
    """``make("name.ext", gen.make_x, **kw) -> Truth``: a generated clip, made once per session."""
    cache: dict = {}

    def _make(name: str, fn, **kw):
        key = (name, fn.__name__, tuple(sorted(kw.items())))
        if key not in cache:
            cache[key] = fn(clip_dir / name, **kw)
        return cache[key]

    return _make


@pytest.fixture(scope="session")
def ray_session():
    """Ray, started once for the whole test session (ray.init costs seconds and ~700 MB)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
