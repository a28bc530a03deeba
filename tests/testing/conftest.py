"""Session fixtures for the media generator tests (tests/conftest.py belongs to the whole suite)."""

from __future__ import annotations

import pytest

from streamfuse.testing import ClipFactory


@pytest.fixture(scope="session")
def clips(tmp_path_factory) -> ClipFactory:
    """``clips(make_x_clip, ".mkv", **kwargs) -> Truth``; each distinct clip is written once per session."""
    return ClipFactory(tmp_path_factory.mktemp("clips"))
