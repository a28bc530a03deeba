"""The in-process runtime: the same stages as the Ray runtime, in threads of one process.

The source stage (demux, decode, align) is read a bounded number of windows ahead by a thread
(:mod:`.prefetch`); it decodes in a worker process (:mod:`.source_process`, the default) or in that
thread (``runtime.source_worker=thread``); each encoder runs in its own lane (:mod:`.lanes`); fusion runs in the calling thread, on windows in
order as their features complete. At most ``runtime.max_in_flight`` windows are being encoded, so
memory stays bounded. Every stateful stage still sees windows one at a time, in order."""

from __future__ import annotations

from collections import deque
from typing import Callable

from ..align.window import Window
from ..config.pipeline import PipelineConfig
from ..decode.demux import DemuxReport
from ..fuse.base import Fused
from ..sources.resolve import Source
from .lanes import Pending
from .prefetch import Prefetch
from .source_process import SourceProcess
from .stages import EncodeStage, FuseStage, SourceStage

OnWindow = Callable[[Window, Fused], None]


class LocalRuntime:
    name = "local"

    def __init__(self, clock=None) -> None:
        self.clock = clock
        #: CPU seconds each encoder spent on the last source (``summary.json``: ``encoders_cpu_seconds``)
        self.costs: dict[str, float] = {}

    def run(self, source: Source, config: PipelineConfig, on_window: OnWindow) -> DemuxReport:
        depth = config.runtime.max_in_flight
        stage = (SourceProcess if config.runtime.source_worker == "process" else SourceStage)(source, config)
        windows = Prefetch(stage, ahead=depth, name=f"source:{source.name}")
        try:
            encode = EncodeStage(config.encoders)
            try:
                fuse = FuseStage(config, source, clock=self.clock)
                pending: deque[tuple[Window, Pending]] = deque()

                def finish_one() -> None:
                    window, features = pending.popleft()
                    on_window(_light(window), fuse(window, features.result()))

                for window in windows:
                    pending.append((window, encode.submit(window)))
                    while pending and (len(pending) >= depth or pending[0][1].done()):
                        finish_one()
                while pending:
                    finish_one()
            finally:
                self.costs = encode.cpu_seconds()
                encode.close()
        finally:
            if isinstance(stage, SourceProcess):
                stage.close()  # first: it ends a receive the read-ahead thread may be blocked in
            windows.close()
        return stage.report

    def close(self) -> None:
        pass


def _light(window: Window) -> Window:
    """The window without its payload, for the driver's bookkeeping."""
    return window.copy(frames=(), thumbs=(), audio=None)
