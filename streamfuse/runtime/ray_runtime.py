"""The Ray runtime: the stages of :mod:`streamfuse.runtime.stages` as actors.

One source actor demuxes, decodes and aligns; encoder actors (one per modality group: video,
audio, text) encode; a fusion actor fuses; the driver is the sink (it writes the results). At most
``max_in_flight`` windows are between the source and the sink (and as many queued at the source):
the driver asks the source for more only when there is room, so a slow encoder holds the source back (backpressure) and
nothing is dropped. Calls from the driver to one actor run in submission order, so every stateful
stage sees windows in order. A stage's exception reaches the driver with its traceback; a user
error (a bad file) comes back as the same one-line :class:`StreamfuseError`.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import Any

import ray

from ..config.pipeline import PipelineConfig
from ..decode.demux import DemuxReport
from ..encode.registry import ENCODERS, encoder_class, enabled_encoders
from ..errors import StageError, StreamfuseError
from ..sources.resolve import Source
from .local import OnWindow, _light
from .stages import EncodeStage, FuseStage, SourceStage

#: encoder groups, each one actor; keys are config keys of ``encoders``
GROUPS = {"video": ("motion", "faces", "people"), "audio": ("vad", "loudness", "asr")}
#: CPU shares declared for the actors (fractional, so a 2-core machine runs them all)
CPUS = {"source": 0.5, "video": 0.5, "audio": 0.5, "fuse": 0.5}


class _SourceActor:
    def __init__(self, source: Source, config: PipelineConfig) -> None:
        self.args = (source, config)
        self.stage: SourceStage | None = None

    def open(self) -> None:
        """Open the source (here, not in ``__init__``, so a bad file comes back as a task error)."""
        self.stage = SourceStage(*self.args)
        self.windows = iter(self.stage)

    def next(self) -> tuple[Any, Any] | None:
        """``(light window, ref of the full window)``, or ``None`` at the end."""
        window = next(self.windows, None)
        if window is None:
            return None
        return _light(window), ray.put(window)

    def report(self) -> DemuxReport:
        return self.stage.report


class _EncoderActor:
    """Lives across sources: ``begin`` makes fresh encoders (models stay loaded in the process)."""

    def begin(self, specs: list[tuple[type, Any]]) -> None:
        self.stage = EncodeStage(encoders=[cls(section) for cls, section in specs])

    def encode(self, window) -> list:
        return self.stage(window)

    def close(self) -> None:
        self.stage.close()


class _FuseActor:
    """Lives across sources: ``begin`` starts a fresh fusion state for the next one."""

    def begin(self, config, source: Source, encoders) -> None:
        self.stage = FuseStage(config, source, encoders=encoders)

    def fuse(self, window, *groups):
        return self.stage(window, [f for group in groups for f in group])


def _unwrap(exc: ray.exceptions.RayTaskError, stage: str) -> Exception:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, StreamfuseError) and not isinstance(cause, StageError):
        return cause
    return StageError(stage, f"{type(cause).__name__ if cause else 'error'}: {cause}", str(exc))


class RayRuntime:
    name = "ray"

    def __init__(self, address: str | None = None, max_in_flight: int = 4, num_cpus: int | None = None) -> None:
        self.max_in_flight = max_in_flight
        self._pool: dict[str, Any] = {}  # encoder-group and fusion actors, kept across sources
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            verbose = logging.getLogger("streamfuse").getEffectiveLevel() <= logging.INFO
            ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=verbose,
                     configure_logging=False)

    def run(self, source: Source, config: PipelineConfig, on_window: OnWindow) -> DemuxReport:
        src = ray.remote(num_cpus=CPUS["source"])(_SourceActor).remote(source, config)
        try:
            ray.get(src.open.remote())  # a bad input fails here, before any model is loaded
        except ray.exceptions.RayTaskError as exc:
            ray.kill(src)
            raise _unwrap(exc, "source") from None
        enabled = dict(enabled_encoders(config.encoders))
        encoders = []
        begun = []
        for group, keys in GROUPS.items():
            # classes are resolved here, on the driver, so the driver's registry is the one that counts
            specs = [(encoder_class(k), enabled[k]) for k in keys if k in enabled]
            if specs:
                actor = self._actor(group, _EncoderActor)
                begun.append(actor.begin.remote(specs))
                encoders.append((group, actor))
        fuse = self._actor("fuse", _FuseActor)
        begun.append(fuse.begin.remote(config.fusion, source, config.encoders))
        in_flight: deque = deque()
        stage = "start"
        ok = False
        try:
            ray.get(begun)
            # keep the source busy: up to max_in_flight next() calls queued (they run in order)
            asked = deque(src.next.remote() for _ in range(self.max_in_flight))
            while asked:
                stage = "source"
                item = ray.get(asked.popleft())
                if item is None:
                    break
                asked.append(src.next.remote())
                light, ref = item
                feats = {group: actor.encode.remote(ref) for group, actor in encoders}
                in_flight.append((light, feats, fuse.fuse.remote(ref, *feats.values())))
                while len(in_flight) >= self.max_in_flight:
                    stage = self._deliver(in_flight.popleft(), on_window)
            while in_flight:
                stage = self._deliver(in_flight.popleft(), on_window)
            report = ray.get(src.report.remote())
            ray.get([actor.close.remote() for _, actor in encoders])
            ok = True
            return report
        except ray.exceptions.RayTaskError as exc:
            raise _unwrap(exc, stage) from None
        finally:
            ray.kill(src)
            if not ok:  # a stage failed or we were interrupted: its state is unknown, start afresh
                self._kill_pool()

    @staticmethod
    def _deliver(entry, on_window: OnWindow) -> str:
        light, feats, fused_ref = entry
        try:
            fused = ray.get(fused_ref)
        except ray.exceptions.RayTaskError as exc:
            for group, ref in feats.items():  # name the stage that really failed
                try:
                    ray.get(ref)
                except ray.exceptions.RayTaskError as inner:
                    raise _unwrap(inner, f"encode/{group}") from None
            raise _unwrap(exc, "fuse") from None
        on_window(light, fused)
        return "source"

    def _actor(self, name: str, cls: type):
        """The long-lived actor for ``name`` (an encoder group or the fusion stage)."""
        if name not in self._pool:
            self._pool[name] = ray.remote(num_cpus=CPUS[name])(cls).remote()
        return self._pool[name]

    def _kill_pool(self) -> None:
        for actor in self._pool.values():
            ray.kill(actor)
        self._pool.clear()

    def close(self) -> None:
        self._kill_pool()
        if self._owns_ray and ray.is_initialized():
            ray.shutdown()


__all__ = ["RayRuntime", "GROUPS", "ENCODERS"]
