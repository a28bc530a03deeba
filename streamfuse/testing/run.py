"""Run streamfuse's stages on a file from a test: windows only, or the whole pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ..align.window import Window
from ..config import load_config
from ..runtime.analyze import SourceResult, analyze_source
from ..runtime.local import LocalRuntime
from ..runtime.source_process import SourceProcess
from ..runtime.stages import SourceStage
from ..sources.resolve import resolve_inputs


def windows_of(path, *sets: str, subtitles: str | None = None, worker: bool = False):
    """All windows of ``path`` (decode + align only) and the demux report; with ``worker``, decoded
    in the local runtime's worker process instead of here."""
    config = load_config(sets=sets)
    (source,) = resolve_inputs([str(path)], subtitles=subtitles)
    stage = SourceProcess(source, config) if worker else SourceStage(source, config)
    windows = list(stage)
    return windows, stage.report


def assert_same_windows(here: list[Window], there: list[Window]) -> None:
    """Two decodings of one source gave the same windows: times, flags, cues, damage, every frame's
    timing and pixels, every audio sample and missing span."""
    assert len(here) == len(there)
    for a, b in zip(here, there):
        assert (a.index, a.start, a.end, a.final, a.absent, a.damaged, a.segments, a.modalities) == \
               (b.index, b.start, b.end, b.final, b.absent, b.damaged, b.segments, b.modalities)
        assert [(f.pts, f.time, f.duration) for f in a.frames] == [(f.pts, f.time, f.duration) for f in b.frames]
        assert all(np.array_equal(f.image, g.image) for f, g in zip(a.frames, b.frames))
        assert (a.audio is None) == (b.audio is None)
        if a.audio is not None:
            assert np.array_equal(a.audio.samples, b.audio.samples) and a.audio.missing == b.audio.missing


def run_pipeline(path, out: Path, *sets: str, runtime=None) -> tuple[SourceResult, list[dict], list[dict]]:
    """Analyse one file into ``out``; returns (result, events, window records)."""
    config = load_config(sets=sets)
    (source,) = resolve_inputs([str(path)])
    result = analyze_source(source, config, runtime or LocalRuntime(), out, progress=False)
    if not result.ok:
        return result, [], []
    events = [json.loads(x) for x in (result.folder / "events.jsonl").read_text().splitlines()]
    windows = [json.loads(x) for x in (result.folder / "windows.jsonl").read_text().splitlines()]
    return result, events, windows


def of_type(events: list[dict[str, Any]], short: str) -> list[dict[str, Any]]:
    """Events of one type (``"speech"`` for ``streamfuse.speech``)."""
    return [e for e in events if e["type"] == f"streamfuse.{short}"]
