"""The Ray runtime: the stages of :mod:`streamfuse.runtime.stages` as actors.

One source actor demuxes, decodes and aligns; every enabled encoder has an actor pool of its own
(``encoders.<key>.concurrency`` actors, each declaring the encoder's CPU share and GPUs: its spec's
resources unless its section sets ``num_cpus`` / ``num_gpus``, so a GPU cluster places GPU encoders
on GPU nodes); a fusion actor fuses; the driver is the sink (it writes the results). The pools come
from the registry, so no registered encoder is ever left out. A stateful encoder gets all windows
of a source on one actor of its pool, in order; a stateless one spreads them over the pool. An
encoder that can batch gets consecutive windows in one call (up to its ``batch_size``, at most
``max_in_flight``).

At most ``max_in_flight`` windows are between the source and the sink (and as many queued at the
source): the driver asks the source for more only when there is room, so a slow encoder holds the
source back (backpressure) and nothing is dropped. A stage's exception reaches the driver with its
traceback; a user error (a bad file) comes back as the same one-line :class:`StreamfuseError`.
"""

from __future__ import annotations

import itertools
import logging
from collections import deque
from typing import Any

import ray

from .. import registry
from ..config.pipeline import PipelineConfig
from ..decode.demux import DemuxReport
from ..errors import StageError, StreamfuseError
from ..sources.resolve import Source
from .lanes import batch_size
from .local import OnWindow, _light
from .source_stage import SourceSettings
from .stages import FuseStage, SourceStage

log = logging.getLogger(__name__)

#: CPU shares of the source and fusion actors (fractional, so a small machine runs them all)
_SOURCE_CPUS = 0.25
_FUSE_CPUS = 0.25


class _SourceActor:
    def __init__(self, source: Source, config: SourceSettings) -> None:
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
    """One encoder; lives across sources: ``begin`` makes a fresh one (models stay loaded in the process)."""

    def begin(self, cls: type, section: Any) -> int:
        self.encoder = cls(section)
        return batch_size(self.encoder)

    def encode(self, *windows):
        """The features of each window (one value for one window, else a tuple: ``num_returns``)."""
        if len(windows) == 1:
            return self.encoder(windows[0])
        return tuple(self.encoder.batch(list(windows)))

    def close(self) -> None:
        self.encoder.close()


class _FuseActor:
    """Lives across sources: ``begin`` starts a fresh fusion state for the next one, with the
    driver's registry (stages registered there by code are adopted here)."""

    def begin(self, config: PipelineConfig, source: Source, stages: dict[str, list[type]]) -> None:
        registry.adopt(stages)
        self.stage = FuseStage(config, source)

    def fuse(self, window, *features):
        return self.stage(window, list(features))


def init_ray(address: str | None = None, num_cpus: int | None = None) -> bool:
    """Start Ray here, or join the cluster at ``address`` (``auto``, ``ray://head:10001``), unless Ray is
    already initialised; True when this call did it (then the caller ends it with :func:`shutdown_ray`).
    Workers' logs reach the terminal only with ``-v``."""
    if ray.is_initialized():
        return False
    verbose = logging.getLogger("streamfuse").getEffectiveLevel() <= logging.INFO
    ray.init(address=address, num_cpus=num_cpus, include_dashboard=False, log_to_driver=verbose,
             configure_logging=False)
    return True


def shutdown_ray(owned: bool) -> None:
    """End Ray if :func:`init_ray` started it (``owned``); a Ray someone else started is left running."""
    if owned and ray.is_initialized():
        ray.shutdown()


def _unwrap(exc: ray.exceptions.RayTaskError, stage: str) -> Exception:
    cause = getattr(exc, "cause", None)
    if isinstance(cause, StreamfuseError) and not isinstance(cause, StageError):
        return cause
    return StageError(stage, f"{type(cause).__name__ if cause else 'error'}: {cause}", str(exc))


class _Pool:
    """The actors of one encoder, and which of them gets the next window."""

    def __init__(self, key: str, actors: list[Any], stateful: bool) -> None:
        self.key = key
        self.actors = actors
        self.stateful = stateful
        self.batch = 1
        self._next = itertools.cycle(range(len(actors)))
        self._sticky = 0

    def begin(self, cls: type, section: Any, source_number: int) -> list[Any]:
        self._sticky = source_number % len(self.actors)
        used = [self.actors[self._sticky]] if self.stateful else self.actors
        return [actor.begin.remote(cls, section) for actor in used]

    def actor(self) -> Any:
        return self.actors[self._sticky] if self.stateful else self.actors[next(self._next)]

    def used(self) -> list[Any]:
        return [self.actors[self._sticky]] if self.stateful else self.actors


class RayRuntime:
    name = "ray"

    def __init__(self, address: str | None = None, max_in_flight: int = 4, num_cpus: int | None = None) -> None:
        self.max_in_flight = max_in_flight
        self._pools: dict[tuple, _Pool] = {}  # encoder pools, kept across sources (models load once)
        self._fuse: Any = None
        self._sources = 0
        self._owns_ray = init_ray(address, num_cpus)

    # -- resources -------------------------------------------------------------------------------

    def _demands(self, config: PipelineConfig) -> list[tuple[type, Any, float, float]]:
        """``(class, section, num_cpus, num_gpus)`` per enabled encoder. When the declared CPU shares of
        all actors exceed the cluster's CPUs they are scaled down together (Ray's shares only place
        actors; without this a small machine could never start them all)."""
        gpus_there = ray.cluster_resources().get("GPU", 0) > 0
        rows = []
        for cls, section in registry.enabled(config.encoders):
            res = cls.spec.resources
            cpus = res.cpus if section.num_cpus is None else section.num_cpus
            if section.num_gpus is not None:
                gpus = section.num_gpus
            else:
                wants_gpu = "cuda" in res.devices and (section.device == "cuda" or (section.device == "auto"
                                                                                     and gpus_there))
                gpus = res.gpus if wants_gpu else 0.0
            rows.append((cls, section, cpus, gpus))
        encoders = sum(c * s.concurrency for _, s, c, _ in rows)
        fixed = _SOURCE_CPUS + _FUSE_CPUS
        have = ray.cluster_resources().get("CPU", 0)
        if have and encoders and encoders + fixed > have:
            # 0.99: Ray rounds fractional shares, and the sum must stay within the cluster
            scale = 0.99 * max(have - fixed, 0.05 * have) / encoders
            log.info("declared CPU shares (%.2f) exceed the cluster's %g CPUs; encoders' shares scaled by %.2f",
                     encoders + fixed, have, scale)
            rows = [(c, s, cpus * scale, g) for c, s, cpus, g in rows]
        return rows

    def _pool(self, cls: type, section: Any, cpus: float, gpus: float) -> _Pool:
        key = (cls.spec.key, round(cpus, 4), gpus, section.concurrency)
        if key not in self._pools:
            actor = ray.remote(num_cpus=cpus, num_gpus=gpus)(_EncoderActor)
            self._pools[key] = _Pool(cls.spec.key, [actor.remote() for _ in range(section.concurrency)],
                                     cls.spec.stateful)
        return self._pools[key]

    # -- one source ------------------------------------------------------------------------------

    def run(self, source: Source, config: PipelineConfig, on_window: OnWindow) -> DemuxReport:
        src = ray.remote(num_cpus=_SOURCE_CPUS)(_SourceActor).remote(source, SourceSettings.of(config))
        try:
            ray.get(src.open.remote())  # a bad input fails here, before any model is loaded
        except ray.exceptions.RayTaskError as exc:
            ray.kill(src)
            raise _unwrap(exc, "source") from None
        number, self._sources = self._sources, self._sources + 1
        pools, begun = [], []
        for cls, section, cpus, gpus in self._demands(config):
            pool = self._pool(cls, section, cpus, gpus)
            begun.append((pool, pool.begin(cls, section, number)))
            pools.append(pool)
        if self._fuse is None:
            self._fuse = ray.remote(num_cpus=_FUSE_CPUS)(_FuseActor).remote()
        fuse_begun = self._fuse.begin.remote(config, source, registry.added())
        in_flight: deque = deque()
        stage = "start"
        ok = False
        try:
            for pool, refs in begun:
                stage = f"encode/{pool.key}"
                pool.batch = min(ray.get(refs)) if refs else 1
            stage = "fuse"
            ray.get(fuse_begun)
            group = max([min(p.batch, self.max_in_flight) for p in pools], default=1)
            # keep the source busy: up to max_in_flight next() calls queued (they run in order)
            asked = deque(src.next.remote() for _ in range(self.max_in_flight))
            ready: list = []
            while asked:
                stage = "source"
                item = ray.get(asked.popleft())
                if item is not None:
                    asked.append(src.next.remote())
                    ready.append(item)
                if ready and (item is None or len(ready) >= group):
                    self._dispatch(ready, pools, in_flight)
                    ready = []
                while len(in_flight) >= self.max_in_flight:
                    stage = self._deliver(in_flight.popleft(), on_window)
                if item is None:
                    break
            while in_flight:
                stage = self._deliver(in_flight.popleft(), on_window)
            report = ray.get(src.report.remote())
            ray.get([actor.close.remote() for pool in pools for actor in pool.used()])
            ok = True
            return report
        except ray.exceptions.RayTaskError as exc:
            raise _unwrap(exc, stage) from None
        finally:
            ray.kill(src)
            if not ok:  # a stage failed or we were interrupted: its state is unknown, start afresh
                self._kill_pools()

    def _dispatch(self, ready: list, pools: list[_Pool], in_flight: deque) -> None:
        """Send consecutive windows to every encoder pool (batched where an encoder can), then each
        window with its features to fusion, in order."""
        per_window: list[dict[str, Any]] = [{} for _ in ready]
        refs = [ref for _, ref in ready]
        for pool in pools:
            if pool.batch > 1 and len(refs) > 1:
                for start in range(0, len(refs), pool.batch):
                    part = refs[start:start + pool.batch]
                    out = pool.actor().encode.options(num_returns=len(part)).remote(*part)
                    for i, r in enumerate(out if len(part) > 1 else [out]):
                        per_window[start + i][pool.key] = r
            else:
                for i, ref in enumerate(refs):
                    per_window[i][pool.key] = pool.actor().encode.remote(ref)
        for (light, ref), feats in zip(ready, per_window):
            in_flight.append((light, feats, self._fuse.fuse.remote(ref, *feats.values())))

    @staticmethod
    def _deliver(entry, on_window: OnWindow) -> str:
        light, feats, fused_ref = entry
        try:
            fused = ray.get(fused_ref)
        except ray.exceptions.RayTaskError as exc:
            for key, ref in feats.items():  # name the stage that really failed
                try:
                    ray.get(ref)
                except ray.exceptions.RayTaskError as inner:
                    raise _unwrap(inner, f"encode/{key}") from None
            raise _unwrap(exc, "fuse") from None
        on_window(light, fused)
        return "source"

    def _kill_pools(self) -> None:
        for pool in self._pools.values():
            for actor in pool.actors:
                ray.kill(actor)
        self._pools.clear()
        if self._fuse is not None:
            ray.kill(self._fuse)
            self._fuse = None

    def close(self) -> None:
        self._kill_pools()
        shutdown_ray(self._owns_ray)


__all__ = ["RayRuntime", "init_ray", "shutdown_ray"]
