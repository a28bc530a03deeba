"""The source stage: demux + decode + align of one source, as an iterator of windows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..align.window import Window
from ..align.windower import Windower
from ..config.pipeline import DecodeConfig, PipelineConfig, WindowConfig
from ..decode.demux import Demuxer, DemuxReport
from ..sources.resolve import Source


@dataclass(frozen=True)
class SourceSettings:
    """What decoding and aligning need of the pipeline's configuration: all that a decoding worker
    (a child process, a Ray actor) is sent, so it never needs the stages' config types."""

    decode: DecodeConfig
    window: WindowConfig

    @classmethod
    def of(cls, config: PipelineConfig | SourceSettings) -> SourceSettings:
        return cls(config.decode, config.window)


class SourceStage:
    """Windows of one source, in order; ``report`` describes what was decoded."""

    def __init__(self, source: Source, config: PipelineConfig | SourceSettings) -> None:
        self.source = source
        self.demuxer = Demuxer(source, config.decode)
        self.demuxer.open()
        self.windower = Windower(source.id, config.window.length, config.window.hop)

    @property
    def report(self) -> DemuxReport:
        return self.demuxer.report

    def __iter__(self) -> Iterator[Window]:
        return self.windower.feed(self.demuxer)
