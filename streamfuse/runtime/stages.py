"""The stages of one source's pipeline as plain Python, shared by both runtimes.

- :class:`SourceStage`: demux + decode + align; iterates windows.
- :class:`EncodeStage`: runs encoders on a window, returns their features.
- :class:`FuseStage`: fusion + description; returns events and the window record.
The Ray runtime wraps exactly these classes in actors; the local runtime calls them in a loop.
"""

from __future__ import annotations

from typing import Iterator

from ..align.window import Window
from ..align.windower import Windower
from ..config.pipeline import EncodersConfig, FusionConfig, PipelineConfig
from ..decode.demux import Demuxer, DemuxReport
from ..encode.base import Encoder, Features
from ..encode.registry import build_encoders, text_embedder
from ..fuse.fusion import FusedWindow, FusionStage
from ..sources.resolve import Source


class SourceStage:
    """Windows of one source, in order; ``report`` describes what was decoded."""

    def __init__(self, source: Source, config: PipelineConfig) -> None:
        self.source = source
        self.demuxer = Demuxer(source, config.decode)
        self.demuxer.open()
        self.windower = Windower(source.id, config.window.length, config.window.hop)

    @property
    def report(self) -> DemuxReport:
        return self.demuxer.report

    def __iter__(self) -> Iterator[Window]:
        return self.windower.feed(self.demuxer)


class EncodeStage:
    """A group of encoders applied to each window in order."""

    def __init__(self, config: EncodersConfig | None = None, encoders: list[Encoder] | None = None) -> None:
        self.encoders = encoders if encoders is not None else build_encoders(config or EncodersConfig())

    def __call__(self, window: Window) -> list[Features]:
        return [enc(window) for enc in self.encoders]

    def close(self) -> None:
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
