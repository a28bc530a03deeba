"""Tiny random foundation models, built once per test session and loaded from a folder exactly as
users' models are (``--set models.<role>=FOLDER``): they prove the plumbing, not accuracy."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    import torch

    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_clip(tmp_path_factory):
    from streamfuse.testing.tiny_models import make_tiny_clip

    return make_tiny_clip(tmp_path_factory.mktemp("models") / "tiny-clip")


@pytest.fixture(scope="session")
def tiny_blip(tmp_path_factory):
    from streamfuse.testing.tiny_models import make_tiny_blip

    return make_tiny_blip(tmp_path_factory.mktemp("models") / "tiny-blip")


@pytest.fixture(scope="session")
def tiny_diffusion(tmp_path_factory):
    from streamfuse.testing.tiny_models import make_tiny_diffusion

    return make_tiny_diffusion(tmp_path_factory.mktemp("models") / "tiny-diffusion")


@pytest.fixture(scope="session")
def tiny_clap(tmp_path_factory):
    from streamfuse.testing.tiny_models import make_tiny_clap

    return make_tiny_clap(tmp_path_factory.mktemp("models") / "tiny-clap")


@pytest.fixture(scope="session")
def tiny_ast(tmp_path_factory):
    from streamfuse.testing.tiny_models import make_tiny_ast

    return make_tiny_ast(tmp_path_factory.mktemp("models") / "tiny-ast")
