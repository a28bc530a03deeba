"""Where a batch's files are analysed: in this process, or spread over Ray workers.

Each worker runs the whole in-process pipeline (:class:`~streamfuse.runtime.local.LocalRuntime`) on
one file at a time and writes that file's result itself, atomically (so on a cluster ``OUT`` must
be a folder every node sees at the same path). A Ray worker is an actor that lives for the whole
batch: models load once per worker, not once per file. Ray starts once per batch.

Both kinds offer ``submit(task)`` while ``free`` and ``wait(timeout)`` -> finished
``(task, outcome)`` pairs, where the outcome is a :class:`SourceResult` or a :class:`WorkerDied`
(the process running the file died: the batch retries the file on another worker).
"""

from __future__ import annotations

import logging
import os
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config.pipeline import PipelineConfig
from ..errors import StreamfuseError
from ..runtime.analyze import SourceResult, analyze_source
from ..sources.resolve import Source

log = logging.getLogger(__name__)


@dataclass
class Task:
    source: Source
    key: str | None
    attempts: int = 0


@dataclass
class WorkerDied:
    reason: str


def analyze_file(runtime, source: Source, config: PipelineConfig, out_dir: str, key: str | None,
                 progress: bool = False) -> SourceResult:
    """One file through ``runtime`` into ``out_dir``; a bug in a stage fails this file only."""
    extra = {"archive": {"key": key}}
    try:
        return analyze_source(source, config, runtime, out_dir, progress=progress, extra=extra)
    except StreamfuseError as exc:  # pragma: no cover - analyze_source returns these as results
        return SourceResult(source, False, error=str(exc), exit_code=exc.exit_code)
    except Exception as exc:  # noqa: BLE001 - one file's bug must not stop the batch
        return SourceResult(source, False, error=f"{source.display}: internal error: {type(exc).__name__}: {exc}",
                            exit_code=1, traceback=traceback.format_exc())


class LocalWorkers:
    """One file at a time, from this process: its stages in this process (``runtime.kind=local``)
    or, with ``runtime.kind=ray``, in the Ray runtime's actor pools (one pool per encoder)."""

    kind = "local"

    def __init__(self, config: PipelineConfig, out_dir: Path, progress: bool = False) -> None:
        self.config, self.out_dir, self.progress = config, str(out_dir), progress
        if config.runtime.kind == "ray":
            from ..runtime.ray_runtime import RayRuntime  # only this path imports ray
            self.runtime = RayRuntime(address=config.runtime.ray_address, max_in_flight=config.runtime.max_in_flight)
        else:
            from ..runtime.local import LocalRuntime
            self.runtime = LocalRuntime()
        self.size = 1
        self._done: list[tuple[Task, Any]] = []

    @property
    def free(self) -> int:
        return 0 if self._done else 1

    def submit(self, task: Task) -> None:
        self._done.append((task, analyze_file(self.runtime, task.source, self.config, self.out_dir, task.key,
                                              self.progress)))

    def wait(self, timeout: float | None = None) -> list[tuple[Task, Any]]:
        done, self._done = self._done, []
        return done

    @property
    def busy(self) -> int:
        return len(self._done)

    def pids(self) -> list[int]:
        return [os.getpid()]

    def close(self) -> None:
        self.runtime.close()


class _FileWorker:
    """A Ray actor: the in-process pipeline, kept across files."""

    def __init__(self, stages: dict[str, list[type]]) -> None:
        from .. import registry
        from ..runtime.local import LocalRuntime
        registry.adopt(stages)
        self.runtime = LocalRuntime()

    def pid(self) -> int:
        return os.getpid()

    def analyze(self, source: Source, config: PipelineConfig, out_dir: str, key: str | None) -> SourceResult:
        return analyze_file(self.runtime, source, config, out_dir, key)


class RayWorkers:
    """``size`` actors of :class:`_FileWorker`; a dead one is replaced and its file handed back."""

    kind = "ray"

    def __init__(self, config: PipelineConfig, out_dir: Path, size: int | None = None,
                 address: str | None = None, cpus_per_worker: float | None = None) -> None:
        import ray

        from .. import registry
        self.ray = ray
        self.config, self.out_dir = config, str(Path(out_dir).resolve())
        self._owns = not ray.is_initialized()
        if self._owns:
            verbose = logging.getLogger("streamfuse").getEffectiveLevel() <= logging.INFO
            os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
            ray.init(address=address, include_dashboard=False, log_to_driver=verbose, configure_logging=False)
        cpus = ray.cluster_resources().get("CPU", 1.0)
        self.size = max(1, int(size or max(1, cpus // 2)))
        share = cpus_per_worker if cpus_per_worker is not None else min(1.0, cpus / self.size)
        self._actor_cls = ray.remote(num_cpus=share, max_restarts=0)(_FileWorker)
        self._stages = registry.added()
        self._idle: list[tuple[Any, int]] = []
        self._running: dict[Any, tuple[Task, Any, int]] = {}  # ref -> (task, actor, pid)
        for _ in range(self.size):
            self._idle.append(self._start())

    def _start(self) -> tuple[Any, int]:
        actor = self._actor_cls.remote(self._stages)
        return actor, self.ray.get(actor.pid.remote())

    @property
    def free(self) -> int:
        return len(self._idle)

    @property
    def busy(self) -> int:
        return len(self._running)

    def pids(self) -> list[int]:
        return [pid for _, pid in self._idle] + [pid for _, _, pid in self._running.values()]

    def running(self) -> dict[str, int]:
        """Which worker process runs which input (name -> pid)."""
        return {task.source.name: pid for task, _, pid in self._running.values()}

    def submit(self, task: Task) -> None:
        actor, pid = self._idle.pop()
        ref = actor.analyze.remote(task.source, self.config, self.out_dir, task.key)
        self._running[ref] = (task, actor, pid)

    def wait(self, timeout: float | None = None) -> list[tuple[Task, Any]]:
        ray = self.ray
        if not self._running:
            return []
        ready, _ = ray.wait(list(self._running), num_returns=1, timeout=timeout)
        out = []
        for ref in ready:
            task, actor, pid = self._running.pop(ref)
            try:
                out.append((task, ray.get(ref)))
                self._idle.append((actor, pid))
            except ray.exceptions.RayActorError as exc:
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
                log.warning("worker %d died while analysing %s (%s); retrying it on another worker",
                            pid, task.source.display, reason)
                ray.kill(actor)
                self._idle.append(self._start())
                out.append((task, WorkerDied(f"worker process {pid} died")))
            except ray.exceptions.RayTaskError as exc:  # not raised by analyze_file; kept for safety
                self._idle.append((actor, pid))
                out.append((task, SourceResult(task.source, False, error=f"{task.source.display}: {exc}", exit_code=1)))
        return out

    def close(self) -> None:
        for actor, _ in self._idle:
            self.ray.kill(actor)
        for _, actor, _ in self._running.values():
            self.ray.kill(actor)
        self._idle.clear()
        self._running.clear()
        if self._owns and self.ray.is_initialized():
            self.ray.shutdown()
