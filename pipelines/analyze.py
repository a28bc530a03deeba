"""The ``analyze`` pipeline: inputs + configuration -> a runtime -> results folders."""

from __future__ import annotations

from pathlib import Path

from streamfuse.config.pipeline import PipelineConfig
from streamfuse.runtime.analyze import SourceResult, analyze
from streamfuse.runtime.local import LocalRuntime
from streamfuse.sources.resolve import Source


def make_runtime(config: PipelineConfig):
    """The runtime ``config.runtime.kind`` names, with its declared resources."""
    if config.runtime.kind == "ray":
        from streamfuse.runtime.ray_runtime import RayRuntime  # only this path imports ray
        return RayRuntime(address=config.runtime.ray_address, max_in_flight=config.runtime.max_in_flight)
    return LocalRuntime()


def run(sources: list[Source], config: PipelineConfig, progress: bool = True) -> list[SourceResult]:
    """Analyse ``sources`` into ``config.output.directory``."""
    runtime = make_runtime(config)
    try:
        return analyze(sources, config, runtime, Path(config.output.directory), progress=progress)
    finally:
        runtime.close()
