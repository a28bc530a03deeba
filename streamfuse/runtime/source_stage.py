"""The source stage: demux + decode + align of one source, as an iterator of windows."""

from __future__ import annotations

from typing import Iterator

from ..align.window import Window
from ..align.windower import Windower
from ..config.pipeline import PipelineConfig
from ..decode.demux import Demuxer, DemuxReport
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
