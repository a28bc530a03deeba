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


_RAY_SESSION = dict(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)


@pytest.fixture(scope="session")
def ray_session():
    """Ray, started once for the whole test session (ray.init costs seconds and ~700 MB)."""
    ray = pytest.importorskip("ray")
    if not ray.is_initialized():
        ray.init(**_RAY_SESSION)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def ray_cluster():
    """A Ray cluster of three 1-CPU nodes on this machine (``cluster.head_node`` and two in
    ``cluster.worker_nodes``; ~700 MB each), joined by this process for the module. A session Ray
    started before is stopped meanwhile and started again after, so the tests that use it still do."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    had_session = ray.is_initialized()
    if had_session:
        ray.shutdown()
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
    try:
        for _ in range(2):
            cluster.add_node(num_cpus=1)
        cluster.wait_for_nodes()
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False, configure_logging=False)
        yield cluster
    finally:
        ray.shutdown()
        cluster.shutdown()
        if had_session:
            ray.init(**_RAY_SESSION)
