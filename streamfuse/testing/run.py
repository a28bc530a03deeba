"""Run streamfuse's stages on a file from a test: windows only, or the whole pipeline."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import load_config
from ..runtime.analyze import SourceResult, analyze_source
from ..runtime.local import LocalRuntime
from ..runtime.stages import SourceStage
from ..sources.resolve import resolve_inputs


def windows_of(path, *sets: str, subtitles: str | None = None):
    """All windows of ``path`` (decode + align only) and the demux report."""
    config = load_config(sets=sets)
    (source,) = resolve_inputs([str(path)], subtitles=subtitles)
    stage = SourceStage(source, config)
    return list(stage), stage.report


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
