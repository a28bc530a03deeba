"""Per-input results of ``analyze``, written atomically.

Everything goes into a hidden temporary folder beside the final one (its name never longer than the
file system allows, however long the final name); ``commit`` writes the sorted
events, the transcript and a summary, syncs them, and renames the folder into place. After a crash
a result folder is either complete or absent, never half-written.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path
from typing import Any, Iterable

import pysubs2

from ..decode.payloads import TextSegment
from ..events.cloudevents import validate_event
from .embeddings import FOLDER as EMBEDDINGS, EmbeddingWriter

RESULT_FILES = ("events.jsonl", "windows.jsonl", "transcript.vtt", "summary.json")
#: the longest file name (in bytes) common file systems take (ext4, XFS, APFS, NTFS in UTF-16 units)
NAME_MAX = 255


def hidden_name(name: str, tag: str) -> str:
    """``.<name>.<tag>-<8 hex>``, a hidden sibling of ``name`` that is never longer than
    :data:`NAME_MAX` bytes: when ``name`` is long, as much of it as fits is kept (whole characters)."""
    suffix = f".{tag}-{uuid.uuid4().hex[:8]}"
    room = NAME_MAX - 1 - len(suffix.encode())
    kept = name.encode("utf-8")[:room].decode("utf-8", "ignore")
    return f".{kept}{suffix}"


def _dump(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


class ResultWriter:
    """Collects one input's windows, events and transcript; ``commit()`` publishes them."""

    def __init__(self, out_root: str | os.PathLike[str], name: str, *, validate: bool = True) -> None:
        self.root = Path(out_root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.final = self.root / name
        self.tmp = self.root / hidden_name(name, "partial")
        self.tmp.mkdir()
        self._windows = open(self.tmp / "windows.jsonl", "w", encoding="utf-8")
        self._embeddings = EmbeddingWriter(self.tmp / EMBEDDINGS)
        self.events: list[dict[str, Any]] = []
        self.transcript: list[TextSegment] = []
        self.windows = 0
        self.validate = validate

    def add_window(self, record: dict[str, Any], embeddings: dict[str, Any] | None = None) -> None:
        """One window's record, and its named vectors for the sidecar (``embeddings/``)."""
        self._windows.write(_dump(record) + "\n")
        if embeddings:
            self._embeddings.add(record["index"], embeddings)
        self.windows += 1

    def add_events(self, events: Iterable[dict[str, Any]]) -> None:
        for event in events:
            if self.validate:
                validate_event(event)
            self.events.append(event)

    def add_transcript(self, segments: Iterable[TextSegment]) -> None:
        self.transcript.extend(segments)

    def commit(self, summary: dict[str, Any]) -> Path:
        self._windows.close()
        # ordered by media start time; ties keep emission order (start, update, end of a series)
        ordered = sorted(self.events, key=lambda e: e["data"]["start"])
        with open(self.tmp / "events.jsonl", "w", encoding="utf-8") as fh:
            for event in ordered:
                fh.write(_dump(event) + "\n")
        self._write_vtt(self.tmp / "transcript.vtt")
        (self.tmp / "summary.json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n", "utf-8")
        for name in RESULT_FILES:
            _fsync_file(self.tmp / name)
        self._embeddings.finish()
        old = None
        if self.final.exists():
            old = self.root / hidden_name(self.final.name, "old")
            os.replace(self.final, old)
        os.replace(self.tmp, self.final)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.final

    def abort(self) -> None:
        """Remove everything written so far (the final folder, if any, is left as it was)."""
        try:
            self._windows.close()
            self._embeddings.abort()
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def _write_vtt(self, path: Path) -> None:
        subs = pysubs2.SSAFile()
        seen = set()
        for seg in sorted(self.transcript, key=lambda s: (s.start, s.end)):
            key = (seg.start, seg.end, seg.text)
            if key in seen or not seg.text.strip():
                continue
            seen.add(key)
            start_ms = int(round(seg.start * 1000))
            end_ms = max(int(round(seg.end * 1000)), start_ms + 1)
            subs.append(pysubs2.SSAEvent(start=start_ms, end=end_ms, text=seg.text.replace("\n", " ")))
        path.write_text(subs.to_string("vtt") if len(subs) else "WEBVTT\n\n", encoding="utf-8")
