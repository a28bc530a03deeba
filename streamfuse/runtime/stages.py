"""The stages of one source's pipeline as plain Python, shared by both runtimes.

- :class:`~.source_stage.SourceStage`: demux + decode + align; iterates windows (its own module,
  so a decoding child process imports nothing else, see :mod:`.source_process`).
- :class:`EncodeStage`: runs encoders on a window, returns their features.
- :class:`FuseStage`: fusion + description; returns events and the window record.
The Ray runtime wraps exactly these classes in actors; the local runtime calls them in a loop.
"""

from __future__ import annotations

from ..align.window import Window
from ..config.pipeline import EncodersConfig, FusionConfig
from ..encode.base import Encoder, Features
from ..encode.registry import build_encoders, text_embedder
from ..fuse.fusion import FusedWindow, FusionStage
from ..sources.resolve import Source
from .lanes import Lanes, Pending
from .source_stage import SourceStage  # noqa: F401  (re-exported: the stages in one place)


class EncodeStage:
    """A group of encoders applied to each window in order, each encoder in its own lane (thread).

    ``submit(window)`` queues a window and returns at once (see :class:`~.lanes.Lanes`); calling
    the stage submits and waits.
    """

    def __init__(self, config: EncodersConfig | None = None, encoders: list[Encoder] | None = None) -> None:
        self.encoders = encoders if encoders is not None else build_encoders(config or EncodersConfig())
        self._lanes = Lanes(self.encoders)

    def submit(self, window: Window) -> Pending:
        return self._lanes.submit(window)

    def __call__(self, window: Window) -> list[Features]:
        return self.submit(window).result()

    def close(self) -> None:
        self._lanes.close()
        for enc in self.encoders:
            enc.close()


class FuseStage:
    """Fusion, description and the text embedding of each window, for one source."""

    def __init__(self, config: FusionConfig, source: Source, clock=None,
                 encoders: EncodersConfig | None = None, run: str | None = None) -> None:
        embed = text_embedder(encoders) if encoders is not None else None
        self.fusion = FusionStage(config, source.id, source.display, clock=clock, embed=embed, run=run)

    def __call__(self, window: Window, features: list[Features]) -> FusedWindow:
        return self.fusion(window, features)
