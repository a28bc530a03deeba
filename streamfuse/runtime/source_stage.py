"""The source stage: demux + decode + align of one source, as an iterator of windows."""

from __future__ import annotations

from dataclasses import dataclass, replace
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
        if isinstance(config, SourceSettings):
            return config
        return cls(source_decoding(config), config.window)


def source_decoding(config: PipelineConfig) -> DecodeConfig:
    """The decoding settings for ``config``: thumbnails of every frame only when an enabled encoder
    reads them."""
    from .. import registry

    if config.decode.thumbnail_width and not registry.needs_thumbnails(config.encoders):
        return replace(config.decode, thumbnail_width=0)
    return config.decode


class SourceStage:
    """Windows of one source, in order; ``report`` describes what was decoded."""

    def __init__(self, source: Source, config: PipelineConfig | SourceSettings) -> None:
        self.source = source
        config = SourceSettings.of(config)
        self.demuxer = Demuxer(source, config.decode)
        self.demuxer.open()
        self.windower = Windower(source.id, config.window.length, config.window.hop)

    @property
    def report(self) -> DemuxReport:
        return self.demuxer.report

    def __iter__(self) -> Iterator[Window]:
        return self.windower.feed(self.demuxer)
