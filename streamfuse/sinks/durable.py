"""A bounded, durable, append-only event log on disk.

One folder holds JSON-lines *segments* named by the log sequence number of their first line
(``0000000000000042.jsonl``: line ``i`` is record ``42 + i``), a ``state.json`` with the consumer's
acknowledged position, and a ``lock`` file (one process at a time). Records are numbered by the log,
not by the event, so events from many sources keep one order.

Two uses:

* the live server's replay log (``retain_acked=True``): every record stays until the bound evicts
  it; :meth:`DurableLog.seq_of` finds an event id so a subscriber resumes right after it;
* a broker sink's buffer (``retain_acked=False``): :meth:`DurableLog.pending` gives what the broker
  has not acknowledged yet, :meth:`DurableLog.ack` removes it (at-least-once: a record leaves only
  after the broker acknowledged it).

Bound: at most ``max_events`` records and ``max_bytes`` bytes of records are kept; appending past the
bound evicts the oldest record (policy: drop oldest, so a long outage keeps the newest events).
Evicting a record nobody acknowledged counts in ``dropped``. Disk use stays under ``max_bytes`` plus
one segment.

Durability (``fsync``): every append is one ``write`` to the OS, so a crash of the process loses
nothing. ``"always"`` fsyncs each append (survives power loss, slow); ``"interval"`` (default) fsyncs
at most once per ``fsync_interval`` seconds on append and on :meth:`sync` / :meth:`close`, so a power
loss can lose that last interval; ``"never"`` leaves it to the OS. The acknowledged position is saved
at the same pace, so after a crash up to one interval of acknowledged records is delivered again
(consumers de-duplicate by event id). A torn last line from a crash is cut off when the log reopens.
"""

from __future__ import annotations

import fcntl
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

from ..errors import ConfigError

FsyncPolicy = Literal["always", "interval", "never"]
_FSYNC_POLICIES = ("always", "interval", "never")
_SUFFIX = ".jsonl"


class Record(NamedTuple):
    """One event read back from the log, with its log sequence number."""

    seq: int
    event: dict[str, Any]


@dataclass
class _Segment:
    base: int
    path: Path
    fd: int
    size: int
    count: int  # lines in the file, evicted or not


class DurableLog:
    """A bounded append-only log of events in ``directory``; thread-safe."""

    def __init__(self, directory: str | os.PathLike[str], *, max_events: int = 100_000,
                 max_bytes: int = 64 << 20, segment_bytes: int | None = None,
                 fsync: FsyncPolicy = "interval", fsync_interval: float = 1.0,
                 retain_acked: bool = True) -> None:
        if fsync not in _FSYNC_POLICIES:
            raise ConfigError(f"fsync: {fsync!r} is not one of {', '.join(map(repr, _FSYNC_POLICIES))}")
        if max_events < 1 or max_bytes < 1024:
            raise ConfigError("buffer bound too small: need max_events >= 1 and max_bytes >= 1024")
        self.directory = Path(directory)
        self.max_events = int(max_events)
        self.max_bytes = int(max_bytes)
        self.segment_bytes = int(segment_bytes or max(64 << 10, self.max_bytes // 8))
        self.fsync = fsync
        self.fsync_interval = float(fsync_interval)
        self.retain_acked = retain_acked
        self._lock = threading.RLock()
        self._closed = False
        # record index: entry for seq s is self._entries[self._head + s - self._first]
        self._entries: list[tuple[int, int, int, str | None]] = []  # (segment base, offset, length, id)
        self._head = 0
        self._first = 0   # lowest retained seq
        self._next = 0    # seq the next append gets
        self._acked = -1  # highest acknowledged seq
        self._bytes = 0
        self._ids: dict[str, int] = {}
        self._segments: list[_Segment] = []
        self._appended = 0
        self._dropped = 0
        self._evicted = 0
        self._corrupt = 0
        self._last_sync = time.monotonic()
        self._state_dirty = False
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.directory / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise ConfigError(f"event buffer {self.directory} is in use by another process; "
                              "give each sink its own buffer folder") from None
        try:
            self._load()
        except BaseException:
            self._release()
            raise

    # ---------------------------------------------------------------- writing
    def append(self, event: dict[str, Any]) -> int | None:
        """Append ``event``; returns its log sequence number, or ``None`` if it alone exceeds the
        byte bound (then it is counted in ``dropped``)."""
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        with self._lock:
            if self._closed:
                raise RuntimeError(f"event log {self.directory} is closed")
            if len(line) > self.max_bytes:
                self._dropped += 1
                return None
            while self._count() and (self._count() + 1 > self.max_events
                                     or self._bytes + len(line) > self.max_bytes):
                self._evict_oldest()
            seg = self._segments[-1]
            if seg.size and seg.size + len(line) > self.segment_bytes:
                seg = self._new_segment(self._next)
            _write_all(seg.fd, line)
            seq = self._next
            self._entries.append((seg.base, seg.size, len(line), event.get("id")))
            if event.get("id") is not None:
                self._ids[event["id"]] = seq
            seg.size += len(line)
            seg.count += 1
            self._next += 1
            self._bytes += len(line)
            self._appended += 1
            if self.fsync == "always":
                os.fsync(seg.fd)
            elif self.fsync == "interval" and time.monotonic() - self._last_sync >= self.fsync_interval:
                self._sync_locked()
            return seq

    def ack(self, seq: int) -> None:
        """Everything up to and including ``seq`` was delivered; it leaves the backlog."""
        with self._lock:
            if self._closed or seq <= self._acked:
                return
            self._acked = min(seq, self._next - 1)
            self._state_dirty = True
            if not self.retain_acked:
                while self._count() and self._first <= self._acked:
                    self._evict_oldest()
            if self.fsync != "never" and time.monotonic() - self._last_sync >= self.fsync_interval:
                self._sync_locked()

    def sync(self) -> None:
        """fsync the current segment and save the acknowledged position."""
        with self._lock:
            if not self._closed:
                self._sync_locked()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._sync_locked()
            self._closed = True
            for seg in self._segments:
                os.close(seg.fd)
            self._segments.clear()
            self._release()

    # ---------------------------------------------------------------- reading
    def read(self, after: int | None = None, limit: int = 256) -> list[Record]:
        """Up to ``limit`` records with ``seq > after`` (all retained ones if ``after`` is None), in
        order. A first record with ``seq > after + 1`` means the ones between were evicted."""
        with self._lock:
            if self._closed:
                return []
            start = self._first if after is None else max(self._first, after + 1)
            stop = min(self._next, start + max(0, limit))
            out: list[Record] = []
            by_base = {seg.base: seg for seg in self._segments}
            for seq in range(start, stop):
                base, offset, length, _ = self._entries[self._head + seq - self._first]
                data = os.pread(by_base[base].fd, length, offset)
                try:
                    out.append(Record(seq, json.loads(data)))
                except ValueError:
                    continue  # a corrupt line (counted when the log was opened)
            return out

    def pending(self, limit: int = 256) -> list[Record]:
        """Records not acknowledged yet, oldest first."""
        with self._lock:
            return self.read(after=self._acked, limit=limit)

    def seq_of(self, event_id: str) -> int | None:
        """The log sequence number of the retained record with this event id (the latest one)."""
        with self._lock:
            seq = self._ids.get(event_id)
            return seq if seq is not None and seq >= self._first else None

    @property
    def first_seq(self) -> int:
        return self._first

    @property
    def last_seq(self) -> int:
        """Seq of the newest record ever appended (-1 if none)."""
        return self._next - 1

    @property
    def backlog(self) -> int:
        with self._lock:
            return self._next - max(self._first, self._acked + 1)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"appended": self._appended, "dropped": self._dropped, "evicted": self._evicted,
                    "backlog": self._next - max(self._first, self._acked + 1),
                    "retained": self._count(), "bytes": self._bytes, "corrupt": self._corrupt,
                    "max_events": self.max_events, "max_bytes": self.max_bytes}

    # ---------------------------------------------------------------- internals
    def _count(self) -> int:
        return self._next - self._first

    def _evict_oldest(self) -> None:
        base, _, length, event_id = self._entries[self._head]
        seq = self._first
        self._head += 1
        self._first += 1
        self._bytes -= length
        if seq > self._acked:
            self._dropped += 1
        else:
            self._evicted += 1
        if event_id is not None and self._ids.get(event_id) == seq:
            del self._ids[event_id]
        if self._head > 4096 and self._head * 2 > len(self._entries):
            del self._entries[:self._head]
            self._head = 0
        self._state_dirty = True
        # delete whole segments that hold only evicted records (never the one being written)
        while len(self._segments) > 1 and self._segments[1].base <= self._first:
            old = self._segments.pop(0)
            os.close(old.fd)
            old.path.unlink(missing_ok=True)

    def _discard_all(self) -> None:
        """Forget every segment (after a gap on disk: a segment removed by hand)."""
        for seg in self._segments:
            os.close(seg.fd)
            seg.path.unlink(missing_ok=True)
        self._segments.clear()
        self._entries.clear()
        self._ids.clear()
        self._bytes = 0

    def _new_segment(self, base: int) -> _Segment:
        path = self.directory / f"{base:016d}{_SUFFIX}"
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        seg = _Segment(base, path, fd, os.fstat(fd).st_size, 0)
        self._segments.append(seg)
        _fsync_dir(self.directory)
        return seg

    def _sync_locked(self) -> None:
        if self._segments and self.fsync != "never":
            os.fsync(self._segments[-1].fd)
        if self._state_dirty:
            state = {"first": self._first, "acked": self._acked, "next": self._next}
            tmp = self.directory / "state.json.tmp"
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(state, f)
                if self.fsync != "never":
                    f.flush()
                    os.fsync(f.fileno())
            os.replace(tmp, self.directory / "state.json")
            self._state_dirty = False
        self._last_sync = time.monotonic()

    def _load(self) -> None:
        state: dict[str, int] = {}
        try:
            state = json.loads((self.directory / "state.json").read_text("utf-8"))
        except (OSError, ValueError):
            pass
        first = int(state.get("first", 0))
        self._acked = int(state.get("acked", -1))
        bases = sorted(int(p.stem) for p in self.directory.glob(f"*{_SUFFIX}") if p.stem.isdigit())
        expected = None
        for base in bases:
            path = self.directory / f"{base:016d}{_SUFFIX}"
            data = path.read_bytes()
            cut = data.rfind(b"\n") + 1
            if cut < len(data):  # a torn last line from a crash
                os.truncate(path, cut)
                data = data[:cut]
            if expected is not None and base != expected:
                # a gap or overlap (a segment removed by hand): keep what follows it
                self._discard_all()
            if not self._segments:
                self._first = base
            seg = self._new_segment(base)
            offset = 0
            for line in data.splitlines(keepends=True):
                event_id = None
                try:
                    event_id = json.loads(line).get("id")
                except (ValueError, AttributeError):
                    self._corrupt += 1
                self._entries.append((base, offset, len(line), event_id))
                if event_id is not None:
                    self._ids[event_id] = base + seg.count
                self._bytes += len(line)
                offset += len(line)
                seg.count += 1
            expected = base + seg.count
        self._next = max(expected or 0, int(state.get("next", 0)), self._acked + 1, first)
        if not self._segments:
            self._first = self._next
            self._new_segment(self._next)
        elif expected != self._next:
            # the newest records were lost (a segment deleted by hand); continue numbering after them
            self._discard_all()
            self._first = self._next
            self._new_segment(self._next)
        # re-apply what was evicted or acknowledged before the restart (counted then), then the bound
        while self._count() and self._first < first:
            self._evict_oldest()
        if not self.retain_acked:
            while self._count() and self._first <= self._acked:
                self._evict_oldest()
        self._dropped = self._evicted = 0
        while self._count() and (self._count() > self.max_events or self._bytes > self.max_bytes):
            self._evict_oldest()

    def _release(self) -> None:
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        finally:
            os.close(self._lock_fd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
