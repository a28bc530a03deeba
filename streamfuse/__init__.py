"""streamfuse: multimodal understanding of video and audio, as it streams.

Public interface (everything else is private by a leading ``_`` or by living in a subpackage)::

    from streamfuse import load_config, resolve_inputs, analyze, LocalRuntime
    config = load_config(sets=["window.length=3"])
    results = analyze(resolve_inputs(["clip.mp4"]), config, LocalRuntime(), "streamfuse-out")

    async for event in streamfuse.subscribe("http://127.0.0.1:8765", types=["speech"]):
        ...
"""

from __future__ import annotations

from typing import Any

from .align.window import Window
from .align.windower import Windower
from .config import PipelineConfig, load_config
from .decode.payloads import AudioClip, TextSegment, VideoFrame
from .encode.base import BaseEncoder, Detection, Encoder, Features
from .errors import (ConfigError, MediaDecodeError, ModelLoadError, SourceNotFoundError, SourceUnreachableError,
                     StageError, StreamfuseError, UnsupportedSourceError, UserInputError)
from .events import make_event, validate_event
from .runtime.analyze import SourceResult, analyze, analyze_source
from .runtime.local import LocalRuntime
from .sources.resolve import Source, resolve_inputs

__version__ = "0.1.0"


_LAZY = {  # heavier parts, imported on first use
    "EventServer": ("streamfuse.serve", "EventServer"),
    "Metrics": ("streamfuse.serve.metrics", "Metrics"),
    "open_sink": ("streamfuse.sinks.uri", "open_sink"),
    "LivePipeline": ("streamfuse.runtime.live", "LivePipeline"),
    "RayRuntime": ("streamfuse.runtime.ray_runtime", "RayRuntime"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'streamfuse' has no attribute {name!r}")


def subscribe(url_or_uri: str, **kwargs: Any):
    """Events from a live server (``http://host:port``) or a broker URI, as an async iterator.
    See :func:`streamfuse.client.subscribe` for the filters."""
    from .client import subscribe as _subscribe  # imports broker clients only when used
    return _subscribe(url_or_uri, **kwargs)


__all__ = [
    "AudioClip", "BaseEncoder", "ConfigError", "Detection", "Encoder", "Features", "LocalRuntime",
    "MediaDecodeError", "ModelLoadError", "PipelineConfig", "Source", "SourceNotFoundError", "SourceResult",
    "SourceUnreachableError", "StageError", "StreamfuseError", "TextSegment", "UnsupportedSourceError",
    "UserInputError", "VideoFrame", "Window", "Windower", "analyze", "analyze_source", "load_config",
    "make_event", "resolve_inputs", "subscribe", "validate_event", "__version__",
    "EventServer", "Metrics", "open_sink", "LivePipeline", "RayRuntime",
]
