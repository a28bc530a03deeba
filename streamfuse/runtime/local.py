"""The in-process runtime: the same stages as the Ray runtime, called in a loop on one thread."""

from __future__ import annotations

from typing import Callable

from ..align.window import Window
from ..config.pipeline import PipelineConfig
from ..decode.demux import DemuxReport
from ..fuse.fusion import FusedWindow
from ..sources.resolve import Source
from .stages import EncodeStage, FuseStage, SourceStage

OnWindow = Callable[[Window, FusedWindow], None]


class LocalRuntime:
    name = "local"

    def __init__(self, clock=None) -> None:
        self.clock = clock

    def run(self, source: Source, config: PipelineConfig, on_window: OnWindow) -> DemuxReport:
        stage = SourceStage(source, config)
        encode = EncodeStage(config.encoders)
        fuse = FuseStage(config.fusion, source, clock=self.clock)
        try:
            for window in stage:
                on_window(_light(window), fuse(window, encode(window)))
        finally:
            encode.close()
        return stage.report

    def close(self) -> None:
        pass


def _light(window: Window) -> Window:
    """The window without its payload, for the driver's bookkeeping."""
    return window.copy(frames=(), audio=None)
