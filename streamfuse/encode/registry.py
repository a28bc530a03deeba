"""Which encoders exist, built from configuration. Imports each encoder (and so its model
library) only when it is enabled."""

from __future__ import annotations

import importlib
from typing import Any

from ..config.pipeline import EncodersConfig
from ..errors import ModelLoadError
from .base import Encoder

#: config key -> "module:Class", in the order encoders run
ENCODERS: dict[str, str] = {
    "motion": "streamfuse.encode.video.motion:MotionEncoder",
    "faces": "streamfuse.encode.video.faces:FaceEncoder",
    "people": "streamfuse.encode.video.people:PeopleEncoder",
    "vad": "streamfuse.encode.audio.vad:VadEncoder",
    "loudness": "streamfuse.encode.audio.loudness:LoudnessEncoder",
    "asr": "streamfuse.encode.text.asr:AsrEncoder",
}
#: ``encoders.text`` configures the sentence embedder the fusion stage uses for each window's
#: description and transcript (see :func:`text_embedder`); it is not a per-window encoder.


def encoder_class(key: str) -> type:
    module, _, cls = ENCODERS[key].partition(":")
    try:
        return getattr(importlib.import_module(module), cls)
    except ImportError as exc:
        raise ModelLoadError(f"encoder {key!r} cannot be imported ({exc}); reinstall streamfuse with its "
                             f"dependencies, or turn it off with --set encoders.{key}.enabled=false") from None


def enabled_encoders(config: EncodersConfig) -> list[tuple[str, Any]]:
    """``(key, section)`` of every enabled encoder, in run order."""
    if not config.enabled:
        return []
    return [(key, getattr(config, key)) for key in ENCODERS if getattr(config, key).enabled]


def text_embedder(config: EncodersConfig):
    """``text -> unit vector`` with the configured sentence model (cached by text), or ``None``
    when ``encoders.text`` is off."""
    if not (config.enabled and config.text.enabled):
        return None
    from .text.embed import TextEncoder
    return TextEncoder(config.text).embedding


def build_encoders(config: EncodersConfig) -> list[Encoder]:
    """Instantiate every enabled encoder."""
    return [encoder_class(key)(section) for key, section in enabled_encoders(config)]
