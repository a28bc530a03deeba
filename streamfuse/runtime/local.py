"""The in-process runtime: the same stages as the Ray runtime, called in a loop. The source stage
(demux, decode, align) runs one thread ahead, a bounded number of windows ahead, so decoding
overlaps encoding; the stateful stages still see windows one at a time, in order."""

from __future__ import annotations

from typing import Callable

from ..align.window import Window
from ..config.pipeline import PipelineConfig
from ..decode.demux import DemuxReport
from ..fuse.fusion import FusedWindow
from ..sources.resolve import Source
from .prefetch import Prefetch
from .stages import EncodeStage, FuseStage, SourceStage

OnWindow = Callable[[Window, FusedWindow], None]


class LocalRuntime:
    name = "local"

    def __init__(self, clock=None) -> None:
        self.clock = clock

    def run(self, source: Source, config: PipelineConfig, on_window: OnWindow) -> DemuxReport:
        stage = SourceStage(source, config)
        encode = EncodeStage(config.encoders)
        fuse = FuseStage(config.fusion, source, clock=self.clock, encoders=config.encoders)
        try:
            for window in Prefetch(stage, ahead=config.runtime.max_in_flight, name=f"source:{source.name}"):
                on_window(_light(window), fuse(window, encode(window)))
        finally:
            encode.close()
        return stage.report

    def close(self) -> None:
        pass


def _light(window: Window) -> Window:
    """The window without its payload, for the driver's bookkeeping."""
    return window.copy(frames=(), audio=None)
