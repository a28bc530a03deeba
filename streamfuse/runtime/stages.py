"""The stages of one source's pipeline as plain Python, shared by both runtimes.

- :class:`~.source_stage.SourceStage`: demux + decode + align; iterates windows (its own module,
  so a decoding child process imports nothing else, see :mod:`.source_process`).
- :class:`EncodeStage`: runs encoders on a window, returns their features.
- :class:`FuseStage`: the fusion stage (the configured fusers); returns events and the window record.
The Ray runtime wraps exactly these classes in actors; the local runtime calls them in a loop.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .. import registry
from ..align.window import Window
from ..config.pipeline import EncodersConfig, PipelineConfig
from ..encode.base import Encoder, Features
from ..fuse.base import Fused
from ..fuse.stage import FusionStage
from ..sources.resolve import Source
from .lanes import Lanes, Pending
from .source_stage import SourceStage  # noqa: F401  (re-exported: the stages in one place)


class EncodeStage:
    """Encoders applied to each window in order, each encoder in its own lane (thread), in the
    registry's order.

    ``submit(window)`` queues a window and returns at once (see :class:`~.lanes.Lanes`); calling
    the stage submits and waits.
    """

    def __init__(self, config: EncodersConfig | None = None, encoders: list[Encoder] | None = None) -> None:
        self.encoders = encoders if encoders is not None else registry.build_encoders(config or EncodersConfig())
        self._lanes = Lanes(self.encoders)

    def submit(self, window: Window) -> Pending:
        return self._lanes.submit(window)

    def __call__(self, window: Window) -> list[Features]:
        return self.submit(window).result()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each encoder has spent so far."""
        return self._lanes.cpu_seconds()

    def close(self) -> None:
        self._lanes.close()
        for enc in self.encoders:
            enc.close()


def text_embedder(config: EncodersConfig) -> Callable[[str], np.ndarray] | None:
    """``text -> unit vector`` with the configured sentence model (``encoders.text``, cached by
    text), or ``None`` when it is off."""
    section = config.section("text")
    if not (config.enabled and section.enabled):
        return None
    return registry.stage("text")(section).embedding


class FuseStage:
    """The fusion stage of one source, with the configured sentence model."""

    def __init__(self, config: PipelineConfig, source: Source, clock=None, run: str | None = None) -> None:
        self.fusion = FusionStage(config, source.id, source.display, clock=clock,
                                  embed=text_embedder(config.encoders), run=run)

    def __call__(self, window: Window, features: list[Features]) -> Fused:
        return self.fusion(window, features)
