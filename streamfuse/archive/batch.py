"""A resumable batch over many inputs: skip what is done, spread the rest over workers, report.

For every input, in order:

1. its key (content hash + configuration, :mod:`.inputs`) is compared with the one in its committed
   ``OUT/<name>/summary.json``; equal: skipped (its events still go to any sink that has not had
   them, and it is indexed if the index lacks it);
2. otherwise a worker analyses it and commits the result folder atomically (a killed run leaves
   only a hidden partial folder, removed by the next run);
3. then the driver indexes it (:mod:`.index`) and sends its events to every ``--sink`` (read back
   from the committed ``events.jsonl``, so a worker that died mid-file sends nothing), and records
   the delivery in the journal.

A bad file is reported and counted, never stops the batch; a worker that dies has its file retried
on another worker (up to ``attempts`` times). Nothing grows with the number of inputs except the
list of inputs itself and the failures.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..config.pipeline import PipelineConfig
from ..runtime.analyze import SourceResult
from ..sources.resolve import Source
from .inputs import committed_key, config_hash, result_key
from .journal import Journal
from .progress import Progress
from .workers import LocalWorkers, RayWorkers, Task, WorkerDied

log = logging.getLogger(__name__)


@dataclass
class BatchReport:
    results: list[SourceResult] = field(default_factory=list)  # analysed (or failed) in this run
    skipped: list[str] = field(default_factory=list)  # names of results already complete
    failures: list[tuple[str, str]] = field(default_factory=list)  # (input, reason)
    retried: int = 0  # files handed to another worker after theirs died
    delivered: dict[str, int] = field(default_factory=dict)  # sink name -> events sent this run
    indexed: int = 0
    media_seconds: float = 0.0
    wall_seconds: float = 0.0
    removed_leftovers: list[str] = field(default_factory=list)
    removed: list[Any] = field(default_factory=list)  # results removed by retention (retention.Removed)

    @property
    def exit_code(self) -> int:
        return max([r.exit_code for r in self.results], default=0)

    def as_dict(self) -> dict[str, Any]:
        return {"analysed": sum(1 for r in self.results if r.ok), "skipped": len(self.skipped),
                "failed": len(self.failures), "failures": [{"input": i, "reason": r} for i, r in self.failures],
                "retried": self.retried, "delivered": self.delivered, "indexed": self.indexed,
                "media_seconds": round(self.media_seconds, 3), "wall_seconds": round(self.wall_seconds, 3),
                "removed": [{"name": r.name, "bytes": r.bytes, "reason": r.reason} for r in self.removed]}


def _key(journal: Journal, source: Source, cfg: str) -> str | None:
    if "://" in source.uri or source.live:
        return None  # a URL's content cannot be hashed without fetching it: always analysed
    return result_key(journal.content_hash(source.uri), cfg)


def deliver(folder: Path, sinks: Iterable[Any], journal: Journal, name: str, key: str,
            report: BatchReport) -> None:
    """Send the committed ``folder/events.jsonl`` to each sink that has not had this result."""
    for sink in sinks:
        if journal.delivered(name, sink.name, key):
            continue
        n = 0
        with open(folder / "events.jsonl", encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    sink.emit(json.loads(line))
                    n += 1
        sink.flush(30.0)  # delivered, or durably buffered for the next run to deliver
        journal.mark_delivered(name, sink.name, key)
        report.delivered[sink.name] = report.delivered.get(sink.name, 0) + n


def run_batch(sources: list[Source], config: PipelineConfig, out_dir: str | Path, *,
              workers: int | None = None, runtime: str | None = None, address: str | None = None,
              sinks: Iterable[Any] = (), index: bool = True, progress: bool = False, attempts: int = 3,
              on_dispatch: Callable[[Task, Any], None] | None = None, pool: Any = None,
              index_url: str | None = None) -> BatchReport:
    """Analyse ``sources`` into ``out_dir`` (see the module docstring). ``runtime``: ``local`` or
    ``ray`` (default ``config.runtime.kind``); ``workers``: Ray workers (default half the CPUs).
    ``on_dispatch(task, workers)`` is called after a file is handed to a worker (tests kill workers there).
    ``pool``: workers of an earlier batch (:mod:`.workers`) to use again, models loaded; left open.
    ``index_url``: a PostgreSQL URL to index into instead of ``OUT/index.sqlite`` (:mod:`.pg_index`)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sinks = list(sinks)
    report = BatchReport()
    t0 = time.perf_counter()
    kind = runtime or config.runtime.kind
    with Journal(out) as journal:
        report.removed_leftovers = journal.remove_leftovers()
        idx = _LazyIndex(out, index_url) if index else None
        cfg = config_hash(config)
        bar = Progress(len(sources), enabled=progress)
        given = pool
        if pool is not None:  # this batch's configuration and folder
            pool.config, pool.out_dir = config, str(out.resolve())
        try:
            def finish(task: Task, result: SourceResult) -> None:
                report.results.append(result)
                name = task.source.name
                if result.ok:
                    journal.clear_failure(name)
                    report.media_seconds += result.summary.get("media_seconds", 0.0)
                    if idx is not None and task.key is not None:
                        idx.add_result(result.folder, task.key)
                        report.indexed += 1
                    if task.key is not None:
                        deliver(result.folder, sinks, journal, name, task.key, report)
                    elif sinks:  # a URL: no stable key, its events go out every time it is analysed
                        deliver(result.folder, sinks, journal, name, f"url-{time.time_ns()}", report)
                    bar.done(name, result.summary.get("media_seconds", 0.0), ok=True, note=result.error)
                else:
                    report.failures.append((task.source.display, result.error or "failed"))
                    journal.record_failure(name, task.source.display, result.error or "failed", task.attempts)
                    bar.done(name, 0.0, ok=False, note=result.error)

            def collect(timeout: float | None) -> list[Task]:
                again = []
                for task, outcome in pool.wait(timeout):
                    if isinstance(outcome, WorkerDied):
                        journal.remove_partial(task.source.name)
                        if task.attempts < attempts:
                            report.retried += 1
                            again.append(task)
                        else:
                            finish(task, SourceResult(task.source, False, exit_code=1, error=(
                                f"{task.source.display}: {outcome.reason} on each of {task.attempts} attempts")))
                    else:
                        finish(task, outcome)
                return again

            queue: list[Task] = []
            for source in sources:
                key = _key(journal, source, cfg)
                folder = out / source.name
                if key is not None and committed_key(folder) == key:
                    report.skipped.append(source.name)
                    if idx is not None and not idx.has(source.name, key):
                        idx.add_result(folder, key)
                        report.indexed += 1
                    deliver(folder, sinks, journal, source.name, key, report)
                    bar.skip(source.name)
                    continue
                queue.append(Task(source, key))
                if pool is None:
                    pool = (RayWorkers(config, out, size=workers, address=address) if kind == "ray"
                            else LocalWorkers(config, out, progress=progress and len(sources) == 1))
                    bar.workers = pool.size
                while queue and pool.free:
                    _submit(pool, queue.pop(0), on_dispatch, bar)
                while queue:
                    queue.extend(collect(0.5))
                    bar.refresh()
                    while queue and pool.free:
                        _submit(pool, queue.pop(0), on_dispatch, bar)
            while pool is not None and (queue or pool.busy):
                queue.extend(collect(0.5))
                bar.refresh()
                while queue and pool.free:
                    _submit(pool, queue.pop(0), on_dispatch, bar)
        finally:
            bar.close()
            if pool is not None and pool is not given:
                pool.close()
            if idx is not None:
                idx.close()
        if config.archive.max_bytes or config.archive.max_age_days:
            from .retention import enforce
            made = frozenset(r.source.name for r in report.results if r.ok)
            report.removed = enforce(out, max_bytes=config.archive.max_bytes,
                                     max_age_days=config.archive.max_age_days, keep=made)
    report.wall_seconds = time.perf_counter() - t0
    _write_report(out, report)
    return report


class _LazyIndex:
    """The index, opened when the first result is added (a batch that commits nothing leaves none)."""

    def __init__(self, out: Path, url: str | None = None) -> None:
        self.out, self.url, self._index = out, url, None
        if url:  # a shared database: connect now, so a wrong URL fails before any work
            self._open()

    def _open(self):
        if self._index is None:
            if self.url:
                from .pg_index import PgIndex
                self._index = PgIndex(self.url)
            else:
                from .index import open_index
                self._index = open_index(self.out)
        return self._index

    def has(self, name: str, key: str) -> bool:
        from .index import INDEX_FILE
        return (self.url or (self.out / INDEX_FILE).exists()) and self._open().has(name, key)

    def add_result(self, folder: Path, key: str) -> None:
        self._open().add_result(folder, key)

    def close(self) -> None:
        if self._index is not None:
            self._index.close()


def _submit(pool: Any, task: Task, on_dispatch, bar: Progress) -> None:
    task.attempts += 1
    pool.submit(task)
    if on_dispatch is not None:
        on_dispatch(task, pool)


def _write_report(out: Path, report: BatchReport) -> None:
    """``OUT/.streamfuse/last-batch.json``, written atomically."""
    path = out / ".streamfuse" / "last-batch.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(report.as_dict(), indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)


def print_summary(report: BatchReport, file=None) -> None:
    file = file or sys.stderr  # looked up now: stderr may have been replaced since import
    analysed = sum(1 for r in report.results if r.ok)
    hours = report.media_seconds / 3600
    speed = f", {report.media_seconds / report.wall_seconds:.1f}x real time" if report.wall_seconds > 0 and analysed else ""
    parts = [f"{analysed} analysed ({hours:.3f} h of media in {report.wall_seconds:.1f} s{speed})",
             f"{len(report.skipped)} already done"]
    if report.failures:
        parts.append(f"{len(report.failures)} failed")
    if report.retried:
        parts.append(f"{report.retried} retried after a worker died")
    for name, n in sorted(report.delivered.items()):
        parts.append(f"{n} events to {name}")
    if report.removed:
        freed = sum(r.bytes for r in report.removed) / 1e6
        parts.append(f"retention removed {len(report.removed)} oldest results ({freed:.1f} MB)")
    print("streamfuse: batch: " + "; ".join(parts), file=file)
    for r in report.removed:
        why = "older than archive.max_age_days" if r.reason == "age" else "over archive.max_bytes"
        print(f"streamfuse: removed: {r.name} ({r.bytes / 1e6:.1f} MB, {why})", file=file)
    for source, reason in report.failures:
        print(f"streamfuse: failed: {reason if source in reason else f'{source}: {reason}'}", file=file)
