"""``analyze``: run each source through a runtime and write its results atomically."""

from __future__ import annotations

import logging
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from ..config.loader import as_dict
from ..config.pipeline import PipelineConfig
from ..errors import StreamfuseError, UserInputError
from ..events.cloudevents import short_type
from ..sinks.results import ResultWriter
from ..sources.resolve import Source

log = logging.getLogger(__name__)


@dataclass
class SourceResult:
    source: Source
    ok: bool
    folder: Path | None = None
    error: str | None = None
    exit_code: int = 0
    traceback: str = ""  # a failed stage's traceback, from the worker that raised
    summary: dict[str, Any] = field(default_factory=dict)


def _probe_duration(source: Source) -> float | None:
    if source.live or "://" in source.uri:
        return None
    try:
        import av
        with av.open(source.uri) as c:
            return c.duration / 1_000_000 if c.duration else None
    except Exception:  # the real open reports the problem
        return None


def analyze_source(source: Source, config: PipelineConfig, runtime, out_dir: str | Path,
                   progress: bool = True, extra: dict[str, Any] | None = None) -> SourceResult:
    """Analyse one source into ``out_dir/<name>``; ``extra`` is added to its ``summary.json``
    (the archive batch records there what the result was made from)."""
    writer = ResultWriter(out_dir, source.name)
    counts: Counter[str] = Counter()
    bar = tqdm(total=_probe_duration(source), unit="s", desc=source.name[:30], disable=not progress,
               leave=False, bar_format="{desc}: {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f} s [{elapsed}<{remaining}]")
    done = 0.0
    t0 = time.perf_counter()

    def on_window(window, fused) -> None:
        nonlocal done
        writer.add_window(fused.record, fused.embeddings)
        writer.add_events(fused.events)
        writer.add_transcript(fused.transcript)
        counts.update(short_type(e) for e in fused.events)
        now = float(window.own_end)
        if bar.total and now > done:
            bar.update(min(now, bar.total) - done)
            done = min(now, bar.total)

    try:
        report = runtime.run(source, config, on_window)
    except StreamfuseError as exc:
        writer.abort()
        bar.close()
        return SourceResult(source, False, error=str(exc), exit_code=exc.exit_code,
                            traceback=getattr(exc, "traceback_text", ""))
    except BaseException:
        writer.abort()
        bar.close()
        raise
    bar.close()
    wall = time.perf_counter() - t0
    summary = {
        "source": source.display, "id": source.id, "name": source.name, "runtime": runtime.name,
        "media_seconds": round(report.media_end, 3), "wall_seconds": round(wall, 3),
        "speed": round(report.media_end / wall, 2) if wall > 0 else None,
        "windows": writer.windows, "events": dict(sorted(counts.items())),
        "transcript_segments": len({(s.start, s.text) for s in writer.transcript}),
        "decode": report.as_dict(),
        "encoders_cpu_seconds": dict(getattr(runtime, "costs", None) or {}),
        "config": as_dict(config),
        **(extra or {}),
    }
    folder = writer.commit(summary)
    result = SourceResult(source, True, folder=folder, summary=summary)
    if report.truncated:
        result.exit_code = UserInputError.exit_code
        of = f" of {report.duration:.2f} s" if report.duration and report.duration > report.media_end else ""
        result.error = (f"{source.display}: file is truncated; media ends at {report.media_end:.2f} s{of}; "
                        "results cover the readable part")
    return result


def analyze(sources: list[Source], config: PipelineConfig, runtime, out_dir: str | Path,
            progress: bool = True) -> list[SourceResult]:
    """Analyse every source in turn; one source's failure does not stop the others."""
    results = []
    outer = tqdm(sources, unit="input", disable=not progress or len(sources) < 2, desc="inputs")
    for source in outer:
        results.append(analyze_source(source, config, runtime, out_dir, progress))
    return results


__all__ = ["analyze", "analyze_source", "SourceResult"]
