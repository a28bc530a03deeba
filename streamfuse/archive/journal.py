"""The batch journal: ``OUT/.streamfuse/journal.sqlite``, and the lock that keeps one batch per OUT.

The journal only remembers what is expensive to find again, on disk (never in memory):

* ``hashes``: each input's content hash by (path, size, mtime), so a rerun does not re-read
  unchanged files;
* ``delivered``: which result (name, key) reached which sink, so a rerun sends a finished
  result's events to a sink only if that sink has not had them (at-least-once: a run killed between
  sending and recording sends them again, with the same CloudEvents ids);
* ``failures``: the inputs the latest run could not analyse, and why.

Whether a result is done is never taken from here: the committed ``summary.json`` says it (see
:mod:`.inputs`), so the journal can be deleted at any time at the cost of re-hashing.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import sqlite3
import time
from pathlib import Path

from ..errors import ConfigError
from ..sinks.results import hidden_name
from .inputs import content_hash

STATE = ".streamfuse"
#: what a batch keeps in OUT besides the result folders (the journal's folder, the index and its WAL files)
ARCHIVE_STATE = (STATE, "index.sqlite", "index.sqlite-wal", "index.sqlite-shm", "index.sqlite-journal")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS hashes (path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, hash TEXT);
CREATE TABLE IF NOT EXISTS delivered (name TEXT, sink TEXT, key TEXT, at REAL, PRIMARY KEY (name, sink));
CREATE TABLE IF NOT EXISTS failures (name TEXT PRIMARY KEY, source TEXT, error TEXT, attempts INTEGER, at REAL);
"""


class Journal:
    """The journal of the batch writing into ``out_dir``; holds an exclusive lock until :meth:`close`."""

    def __init__(self, out_dir: str | os.PathLike[str]) -> None:
        self.out = Path(out_dir)
        self.dir = self.out / STATE
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = os.open(self.dir / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock)
            raise ConfigError(f"{self.out} is being written by another streamfuse analyze; "
                              "wait for it or choose another -o OUT") from None
        self.db = sqlite3.connect(self.dir / "journal.sqlite", isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    # -- content hashes ---------------------------------------------------------------------------
    def content_hash(self, path: str) -> str:
        st = os.stat(path)
        row = self.db.execute("SELECT size, mtime_ns, hash FROM hashes WHERE path = ?", (path,)).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2]
        digest = content_hash(path)
        self.db.execute("INSERT OR REPLACE INTO hashes VALUES (?, ?, ?, ?)", (path, st.st_size, st.st_mtime_ns, digest))
        return digest

    # -- deliveries -------------------------------------------------------------------------------
    def delivered(self, name: str, sink: str, key: str) -> bool:
        row = self.db.execute("SELECT key FROM delivered WHERE name = ? AND sink = ?", (name, sink)).fetchone()
        return bool(row and row[0] == key)

    def mark_delivered(self, name: str, sink: str, key: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO delivered VALUES (?, ?, ?, ?)", (name, sink, key, time.time()))

    # -- failures ---------------------------------------------------------------------------------
    def record_failure(self, name: str, source: str, error: str, attempts: int) -> None:
        self.db.execute("INSERT OR REPLACE INTO failures VALUES (?, ?, ?, ?, ?)",
                        (name, source, error, attempts, time.time()))

    def clear_failure(self, name: str) -> None:
        self.db.execute("DELETE FROM failures WHERE name = ?", (name,))

    def failures(self) -> list[tuple[str, str, str, int]]:
        return list(self.db.execute("SELECT name, source, error, attempts FROM failures ORDER BY name"))

    # -- leftovers --------------------------------------------------------------------------------
    def remove_leftovers(self) -> list[str]:
        """Delete the hidden folders a killed run left behind (half-written results being built, or a
        replaced result not yet removed). Safe: this batch holds the lock on OUT."""
        gone = []
        for path in self.out.iterdir():
            if path.name.startswith(".") and path.is_dir() and ("partial-" in path.name or ".old-" in path.name):
                shutil.rmtree(path, ignore_errors=True)
                gone.append(path.name)
        return gone

    def remove_partial(self, name: str) -> None:
        """Delete the partial folder(s) of result ``name`` (its worker died while writing it)."""
        prefix = hidden_name(name, "partial")[:-8]  # without the random part
        for path in self.out.glob(glob.escape(prefix) + "*"):
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        try:
            self.db.close()
        finally:
            try:
                fcntl.flock(self._lock, fcntl.LOCK_UN)
            finally:
                os.close(self._lock)

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
