"""Retention: keep OUT's results, report pages and index within ``archive.max_bytes`` and
``archive.max_age_days`` (see :class:`~streamfuse.config.archive.ArchiveConfig`), oldest first.

A result is removed in an order that never leaves half of one: its folder is first renamed to a
hidden ``.<name>.old-*`` sibling (one atomic step: from then on it is simply absent, and a rerun
analyses the input again), then its rows leave the index in one transaction and its report page
is deleted, and only then is the hidden folder deleted. A run killed in between leaves that hidden
folder, which the next batch removes (:meth:`~.journal.Journal.remove_leftovers`).
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ..sinks.results import hidden_name
from .index import INDEX_FILE
from .report import REPORT_DIR, page_name


@dataclass
class Removed:
    name: str
    bytes: int
    reason: str  # "age" or "size"


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def _index_bytes(out: Path) -> int:
    return sum(_size(p) for p in out.glob(INDEX_FILE + "*") if p.is_file())


def enforce(out: str | Path, *, max_bytes: int = 0, max_age_days: float = 0.0, keep: frozenset[str] = frozenset(),
            index=None, now: float | None = None) -> list[Removed]:
    """Remove the oldest results until the bounds hold; never one named in ``keep``. ``index``: an
    open :class:`~.index.Index` of OUT (else it is opened if present). Returns what was removed."""
    out = Path(out)
    if not max_bytes and not max_age_days:
        return []
    now = time.time() if now is None else now
    results = []
    for summary in out.glob("*/summary.json"):
        folder = summary.parent
        if folder.name.startswith(".") or folder.name == REPORT_DIR:
            continue
        page = out / REPORT_DIR / page_name(folder.name)
        size = _size(folder) + (_size(page) if page.exists() else 0)
        results.append((summary.stat().st_mtime, folder.name, size))
    results.sort()
    total = sum(r[2] for r in results) + _index_bytes(out)
    doomed: list[Removed] = []
    for committed, name, size in results:
        if name in keep:
            continue
        if max_age_days and now - committed > max_age_days * 86400:
            doomed.append(Removed(name, size, "age"))
            total -= size
    for committed, name, size in results:
        if not max_bytes or total <= max_bytes:
            break
        if name in keep or any(d.name == name for d in doomed):
            continue
        doomed.append(Removed(name, size, "size"))
        total -= size
    if not doomed:
        return []
    opened = None
    if index is None and (out / INDEX_FILE).exists():
        from .index import open_index
        index = opened = open_index(out)
    try:
        for d in doomed:
            folder = out / d.name
            gone = out / hidden_name(d.name, "old")
            os.replace(folder, gone)  # the result is absent from here on
            if index is not None:
                with index.db:
                    index.remove(d.name)
            (out / REPORT_DIR / page_name(d.name)).unlink(missing_ok=True)
            shutil.rmtree(gone, ignore_errors=True)
        if index is not None:
            index.db.execute("VACUUM")  # give the removed rows' space back, so the index shrinks too
    finally:
        if opened is not None:
            opened.close()
    return doomed
