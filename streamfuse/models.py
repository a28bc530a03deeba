"""``streamfuse models``: which model each stage uses, where it is loaded from, and whether it is
available offline. Derived from the stages' declarations (:func:`streamfuse.registry.model_rows`);
looks at files only, loads no weights."""

from __future__ import annotations

from typing import Any

from . import registry
from .config.pipeline import PipelineConfig


def describe_models(config: PipelineConfig) -> list[dict[str, Any]]:
    """One row per model of every registered stage: ``stage``, ``model``, ``kind``, ``location``,
    ``available``, ``how`` (what to do when it is not) and ``enabled``."""
    return registry.model_rows(config)
