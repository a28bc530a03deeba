"""The archive's search index: ``OUT/index.sqlite`` (SQLite with FTS5 for text, ``sqlite-vec`` for
the window embeddings).

One row per window (its description, transcript and sound labels), one per event series (its
closing ``end`` or ``instant`` record: type, span, text, label), the windows' ``text.window``
embeddings (the bundled MiniLM sentence model) in a ``vec0`` table, and an FTS5 table over the
text of both. :meth:`Index.add_result` replaces one input's rows in one transaction, so the index
never holds half an input and re-adding an input (a rerun, a retried file) never duplicates it.

The standard library's ``sqlite3`` of many Pythons cannot load extensions; the index uses
``apsw``, which carries its own SQLite (with FTS5) and loads ``sqlite-vec``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import ConfigError

INDEX_FILE = "index.sqlite"
EMBEDDING = "text.window"
_WORD = re.compile(r"[\w']+", re.UNICODE)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS sources (name TEXT PRIMARY KEY, source_id TEXT, display TEXT, key TEXT,
                                    media_seconds REAL);
CREATE TABLE IF NOT EXISTS windows (id INTEGER PRIMARY KEY, name TEXT, idx INTEGER, start REAL, "end" REAL,
                                    description TEXT, transcript TEXT, labels TEXT);
CREATE INDEX IF NOT EXISTS windows_by_name ON windows (name, start);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, name TEXT, event_id TEXT, type TEXT,
                                   start REAL, "end" REAL, confidence REAL, text TEXT, label TEXT);
CREATE INDEX IF NOT EXISTS events_by_name ON events (name, start);
CREATE INDEX IF NOT EXISTS events_by_type ON events (type, start);
CREATE VIRTUAL TABLE IF NOT EXISTS text_fts USING fts5(body, kind UNINDEXED, ref UNINDEXED, name UNINDEXED);
"""


def connect(path: str | Path):
    """An ``apsw`` connection with ``sqlite-vec`` loaded."""
    try:
        import apsw
        import sqlite_vec
    except ImportError as exc:  # pragma: no cover - both are dependencies
        raise ConfigError(f"the search index needs {exc.name}; install streamfuse's dependencies") from None
    db = apsw.Connection(str(path))
    db.enable_load_extension(True)
    db.load_extension(sqlite_vec.loadable_path())
    db.enable_load_extension(False)
    db.setbusytimeout(10_000)
    return db


def words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text or "")]


#: words too common to say which moment is meant (left out of word matching, kept for meaning)
STOP_WORDS = frozenset(["a", "an", "and", "are", "as", "at", "be", "by", "for", "from", "has", "in", "is", "it",
                        "its", "of", "on", "or", "that", "the", "to", "was", "were", "with", "about", "into"])


def fts_query(text: str) -> str | None:
    """An FTS5 query matching any word of ``text`` but :data:`STOP_WORDS` (each word quoted: user
    text is never FTS syntax)."""
    terms = dict.fromkeys(w for w in words(text) if w not in STOP_WORDS)
    return " OR ".join('"' + t.replace('"', '""') + '"' for t in terms) or None


def _labels(record: dict[str, Any]) -> str:
    names = []
    for rows in (record.get("labels") or {}).values():
        for row in rows or ():
            if isinstance(row, (list, tuple)) and row:
                names.append(str(row[0]))
    for section in ("video", "audio"):
        objects = ((record.get(section) or {}).get("objects") or {}).get("objects") or {}
        names.extend(str(k) for k in objects)
    return ", ".join(dict.fromkeys(names))


class Index:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.db = connect(self.path)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute(_SCHEMA)
        row = self.db.execute("SELECT v FROM meta WHERE k = 'dim'").fetchone()
        self.dim = int(row[0]) if row else None

    # -- writing ----------------------------------------------------------------------------------
    def has(self, name: str, key: str) -> bool:
        row = self.db.execute("SELECT key FROM sources WHERE name = ?", (name,)).fetchone()
        return bool(row and row[0] == key)

    def _ensure_vec(self, dim: int) -> None:
        if self.dim is None:
            self.db.execute(f"CREATE VIRTUAL TABLE IF NOT EXISTS window_vec USING vec0("
                            f"embedding float[{int(dim)}] distance_metric=cosine)")
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('dim', ?)", (str(dim),))
            self.dim = dim
        elif dim != self.dim:
            raise ConfigError(f"{self.path}: window embeddings have {dim} dimensions, the index {self.dim}; "
                              "index results of one text model per index (or delete the index to rebuild it)")

    def remove(self, name: str) -> None:
        db = self.db
        if self.dim is not None:
            db.execute("DELETE FROM window_vec WHERE rowid IN (SELECT id FROM windows WHERE name = ?)", (name,))
        db.execute("DELETE FROM text_fts WHERE name = ?", (name,))
        db.execute("DELETE FROM windows WHERE name = ?", (name,))
        db.execute("DELETE FROM events WHERE name = ?", (name,))
        db.execute("DELETE FROM sources WHERE name = ?", (name,))

    def add_result(self, folder: str | Path, key: str) -> None:
        """(Re)index the committed result ``folder``, all of it or nothing."""
        folder = Path(folder)
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        name = folder.name
        vectors, rows_of = _embeddings(folder)
        with self.db:  # one transaction
            self.remove(name)
            if vectors is not None:
                self._ensure_vec(vectors.shape[1])
            self.db.execute("INSERT INTO sources VALUES (?, ?, ?, ?, ?)",
                            (name, summary.get("id"), summary.get("source"), key, summary.get("media_seconds")))
            for record in _jsonl(folder / "windows.jsonl"):
                self._add_window(name, record, vectors, rows_of)
            for event in _jsonl(folder / "events.jsonl"):
                self._add_event(name, event)

    def _add_window(self, name: str, record: dict[str, Any], vectors, rows_of: dict[int, int]) -> None:
        transcript = (record.get("text") or {}).get("transcript") or ""
        labels = _labels(record)
        description = record.get("description") or ""
        cur = self.db.execute("INSERT INTO windows (name, idx, start, \"end\", description, transcript, labels) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              (name, record.get("index"), record["start"], record["end"], description, transcript,
                               labels))
        wid = cur.fetchone()[0]
        for kind, body in (("description", description), ("transcript", transcript), ("labels", labels)):
            if body:
                self.db.execute("INSERT INTO text_fts (body, kind, ref, name) VALUES (?, ?, ?, ?)",
                                (body, kind, wid, name))
        row = rows_of.get(record.get("index"))
        if vectors is not None and row is not None:
            self.db.execute("INSERT INTO window_vec (rowid, embedding) VALUES (?, ?)",
                            (wid, np.ascontiguousarray(vectors[row], dtype=np.float32).tobytes()))

    def _add_event(self, name: str, event: dict[str, Any]) -> None:
        data = event.get("data") or {}
        if data.get("phase") not in ("end", "instant"):
            return  # a series is indexed once, by the record that closes it (its full span)
        kind = str(event.get("type", "")).removeprefix("streamfuse.")
        cur = self.db.execute("INSERT INTO events (name, event_id, type, start, \"end\", confidence, text, label) "
                              "VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
                              (name, data.get("event_id") or event.get("id"), kind, data.get("start"), data.get("end"),
                               data.get("confidence"), data.get("text"), data.get("label")))
        eid = cur.fetchone()[0]
        body = " ".join(str(x) for x in (kind.replace(".", " "), data.get("label"), data.get("text")) if x)
        self.db.execute("INSERT INTO text_fts (body, kind, ref, name) VALUES (?, 'event', ?, ?)", (body, eid, name))

    def close(self) -> None:
        self.db.close()


def _jsonl(path: Path) -> Iterable[dict[str, Any]]:
    if not path.exists():
        return
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def _embeddings(folder: Path) -> tuple[np.ndarray | None, dict[int, int]]:
    base = folder / "embeddings"
    matrix, windows = base / f"{EMBEDDING}.npy", base / f"{EMBEDDING}.windows.npy"
    if not matrix.exists() or not windows.exists():
        return None, {}
    vectors = np.load(matrix, mmap_mode="r")
    index = np.load(windows)
    if len(vectors) == 0:
        return None, {}
    return vectors, {int(w): i for i, w in enumerate(index)}


def open_index(out_dir: str | Path) -> Index:
    return Index(Path(out_dir) / INDEX_FILE)


@dataclass
class Hit:
    source: str
    start: float
    end: float
    score: float
    via: str
    description: str
    name: str = ""
    type: str | None = None

    def as_dict(self) -> dict[str, Any]:
        out = {"source": self.source, "start": round(self.start, 3), "end": round(self.end, 3),
               "score": round(self.score, 4), "via": self.via, "description": self.description}
        if self.type:
            out["type"] = self.type
        return out
