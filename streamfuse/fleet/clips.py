"""Event clips: a few seconds before to a few seconds after an event, cut from the camera's own packets.

:class:`ClipRecorder` taps the live reader (see :class:`~streamfuse.decode.live.LiveReader`'s
``tap``): every compressed video packet of the connection goes into a ring buffer that holds
``pre + post + lag`` seconds, before anything is decoded. The camera pipeline asks for a clip when an
object, face or fused event starts (:func:`.snapshots.wants_frame`; or one of ``types``); once the feed has delivered
``post`` seconds past the event's start, the packets from the last keyframe at or before
``start - pre`` up to ``start + post`` are written to ``<dir>/<camera>/<event_id>.mp4`` as they came
(no re-encoding: the codec is copied, so a clip costs a few milliseconds, and its pictures are the
camera's own). A clip begins on a keyframe, so it may begin up to one keyframe interval before
``start - pre``; when the ring holds less (the feed connected shortly before), it begins at the
ring's first keyframe. A connection that ends first ends the clip there (a clip never joins two
connections: their timestamps and codec settings differ). When a codec cannot go into MP4 the clip
is written as Matroska (``.mkv``).

The event's evidence gets ``clip``: ``{"path", "start", "end"}`` (the planned media-time span) and
``url`` when the event server serves the folder; the file appears ``post`` seconds (of media) after
the event's start. Clips are written atomically and bounded by ``max_files`` per camera, oldest first.
Media time of a packet: its ``pts * time_base`` plus the offset that the decoded frames of the same
connection show (``frame.time - frame.pts * time_base``), so clip bounds are in the events' time.
"""

from __future__ import annotations

import io
import threading
from collections import deque
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from ..config.base import Section, bounded
from ..config.loader import build
from ..errors import ConfigError
from ..registry import event_kinds
from .media_files import MediaFolder, file_name, report_failure
from .snapshots import wants_frame

#: the most compressed video one camera's ring holds, whatever its bit rate (about 2 minutes at 4 Mbit/s)
MAX_BYTES = 64 << 20


@dataclass(frozen=True)
class ClipsConfig(Section):
    dir: str
    pre: float = bounded(5.0, 0.0, 60.0, doc="seconds of media before the event's start")
    post: float = bounded(5.0, 0.0, 60.0, doc="seconds of media after the event's start")
    max_files: int = bounded(100, 1, None, doc="clips kept per camera, the oldest removed first")
    lag: float = bounded(30.0, 0.0, 600.0,
                         doc="how far (media seconds) event processing may trail the reader and still get its pre-roll")
    types: tuple[str, ...] = ()  # event types that get a clip (e.g. motion); empty: objects, faces, fused events

    def check(self) -> None:
        if self.pre + self.post <= 0:
            raise ConfigError("pre + post must be above 0 seconds")
        known = event_kinds()
        for t in self.types:
            if t.removeprefix("streamfuse.") not in known:
                raise ConfigError(f"types: {t!r} is not an event type; known: {', '.join(sorted(known))}")
        object.__setattr__(self, "types", tuple(f"streamfuse.{t.removeprefix('streamfuse.')}" for t in self.types))

    @classmethod
    def parse(cls, spec: Any, default_dir: str | None, where: str = "clips") -> "ClipsConfig | None":
        """``None``/``false``: none; ``true``: the defaults; a folder; or a mapping. Without ``dir``
        the clips go to ``default_dir`` (the snapshots' folder)."""
        if spec in (None, False):
            return None
        spec = {} if spec is True else {"dir": spec} if isinstance(spec, str) else spec
        if not isinstance(spec, dict):
            raise ConfigError(f"{where}: expected true, a folder, or a mapping with pre:, post:, max_files:, dir:")
        spec = {"dir": default_dir, **spec}
        if not isinstance(spec["dir"], str):
            raise ConfigError(f"{where}.dir: give a folder for the clips (or set snapshots.dir, which they then share)")
        if isinstance(spec.get("types"), (str, list)):
            spec["types"] = tuple([spec["types"]] if isinstance(spec["types"], str) else spec["types"])
        return build(cls, spec, where)


@dataclass
class _Packet:
    data: bytes
    pts: int | None
    dts: int | None
    key: bool
    duration: int


@dataclass
class _Request:
    key: str
    start: Fraction  # media time
    end: Fraction


class _Connection:
    """One connection's video stream: its codec parameters (kept in a container of our own, so
    they outlive the input) and its packets."""

    def __init__(self, number: int, stream) -> None:
        self.number = number
        self.time_base: Fraction = stream.time_base
        self._holder = av.open(io.BytesIO(), "w", format="matroska")  # never written: holds a copy of codecpar
        self.template = self._holder.add_stream_from_template(stream)
        self.packets: deque[_Packet] = deque()
        self.bytes = 0
        self.offset: Fraction | None = None  # media time - stream time, once a decoded frame shows it
        self.suffix, self.format = (".mp4", "mp4") if _mp4_takes(self.template) else (".mkv", "matroska")

    def media(self, pts: int) -> Fraction | None:
        return None if self.offset is None else pts * self.time_base + self.offset

    def add(self, packet: _Packet, keep: Fraction) -> None:
        """Hold ``packet``; forget what is more than ``keep`` seconds older than it, and the oldest
        beyond :data:`MAX_BYTES` (also when timestamps jump back, which a camera's may)."""
        self.packets.append(packet)
        self.bytes += len(packet.data)
        newest = packet.pts * self.time_base
        while self.packets and (newest - self.packets[0].pts * self.time_base > keep or self.bytes > MAX_BYTES):
            self.bytes -= len(self.packets.popleft().data)


class ClipRecorder:
    """The clips of one camera (see the module docstring). ``opened``, ``packet`` and ``closed`` come
    from the reader's thread; ``frame``, ``__call__`` and ``close`` from the camera's processing thread."""

    def __init__(self, config: ClipsConfig, camera: str, url: str | None = None) -> None:
        self.config = config
        self.files = MediaFolder(Path(config.dir) / camera, config.max_files, (".mp4", ".mkv"), "clips.dir")
        self.folder = self.files.folder
        self.url = url
        self._keep = Fraction(config.pre + config.post + config.lag).limit_denominator(1000)
        self._conn: _Connection | None = None
        self._pending: list[_Request] = []
        self._asked: set[str] = set()
        self._lock = threading.Lock()
        self.written = 0
        self.failed = 0

    # -- the reader's side ---------------------------------------------------------------------

    def opened(self, number: int, container) -> None:
        """A new connection (``number``: the reader's count of attempts) and its input container."""
        stream = next((s for s in container.streams.video
                       if not (s.disposition & av.stream.Disposition.attached_pic)), None)
        with self._lock:
            self._write_due(everything=True)  # what the old connection had: clips end there
            self._conn = _Connection(number, stream) if stream is not None else None
            self._stream_index = stream.index if stream is not None else None

    def packet(self, packet) -> None:
        conn = self._conn
        if conn is None or packet.stream.index != self._stream_index or packet.size == 0 or packet.pts is None:
            return
        with self._lock:
            conn.add(_Packet(bytes(packet), packet.pts, packet.dts, packet.is_keyframe, packet.duration or 0),
                     self._keep)
            if self._pending:
                self._write_due()

    def closed(self, number: int) -> None:
        """Connection ``number`` ended: its pending clips are written with what it delivered."""
        with self._lock:
            if self._conn is not None and self._conn.number == number:
                self._write_due(everything=True)
                self._conn = None

    # -- the pipeline's side -------------------------------------------------------------------

    def frame(self, connection: int, time: Fraction, pts: int, time_base: Fraction) -> None:
        """A decoded frame of connection ``connection``: it tells how stream time maps to media time."""
        conn = self._conn
        if conn is not None and conn.number == connection and conn.offset is None:
            with self._lock:
                conn.offset = time - pts * time_base

    def __call__(self, event: dict[str, Any]) -> None:
        """Ask for a clip of ``event`` (once per event id) and put ``clip`` in its evidence."""
        if not (event.get("type") in self.config.types if self.config.types else wants_frame(event)):
            return
        data = event["data"]
        key = data["event_id"]
        start = Fraction(data["start"]).limit_denominator(1_000_000)
        begin = max(Fraction(0), start - Fraction(self.config.pre).limit_denominator(1000))
        end = start + Fraction(self.config.post).limit_denominator(1000)
        if key not in self._asked:
            self._asked.add(key)
            with self._lock:
                self._pending.append(_Request(key, begin, end))
        conn = self._conn
        name = file_name(key, conn.suffix if conn is not None else ".mp4")
        clip = {"path": str(self.folder / name), "start": float(begin), "end": float(end)}
        if self.url is not None:
            clip["url"] = f"{self.url}/{name}"
        data.setdefault("evidence", {})["clip"] = clip
        if data["phase"] in ("end", "instant") and len(self._asked) > 10_000:
            self._asked.clear()  # bounded; event ids are never reused

    def close(self) -> None:
        """Write what is pending with what the ring holds (the camera stops)."""
        with self._lock:
            self._write_due(everything=True)
            self._conn = None

    # -- writing -------------------------------------------------------------------------------

    def _write_due(self, everything: bool = False) -> None:
        conn = self._conn
        if not self._pending:
            return
        if conn is None or conn.offset is None or not conn.packets:
            if everything:
                self._pending.clear()  # nothing of theirs was kept
            return
        newest = conn.media(conn.packets[-1].pts)
        due = [r for r in self._pending if everything or newest >= r.end]
        if not due:
            return
        self._pending = [r for r in self._pending if r not in due]
        for request in due:
            try:
                self._write(conn, request)
            except (av.error.FFmpegError, OSError, ValueError) as exc:  # a full disk: no clip, the events go on
                self.failed += 1
                report_failure(f"clips in {self.folder}", self.failed, exc)

    def _write(self, conn: _Connection, request: _Request) -> None:
        packets = list(conn.packets)
        starts = [i for i, p in enumerate(packets) if p.key and conn.media(p.pts) <= request.start]
        first = starts[-1] if starts else next((i for i, p in enumerate(packets) if p.key), None)
        if first is None:
            return
        # cut in decoding order (dts), so no picture at the end loses a frame it refers to
        chosen = [p for p in packets[first:] if conn.media(p.dts if p.dts is not None else p.pts) < request.end]
        if not chosen:
            return
        self.files.write(file_name(request.key, conn.suffix), lambda tmp: _mux(tmp, conn.format, conn, chosen))
        self.written += 1


def _mp4_takes(template) -> bool:
    """Whether MP4 can hold this stream as it is (else Matroska, which holds any codec)."""
    try:
        with av.open(io.BytesIO(), "w", format="mp4") as probe:
            probe.add_stream_from_template(template)
            probe.start_encoding()
        return True
    except (av.error.FFmpegError, ValueError):
        return False


def _mux(path: str, fmt: str, conn: _Connection, packets: list[_Packet]) -> None:
    base = min(p.dts if p.dts is not None else p.pts for p in packets)
    with av.open(path, "w", format=fmt) as out:
        stream = out.add_stream_from_template(conn.template)
        for p in packets:
            packet = av.Packet(p.data)
            packet.pts = p.pts - base
            packet.dts = None if p.dts is None else p.dts - base
            packet.time_base = conn.time_base
            packet.duration = p.duration
            packet.is_keyframe = p.key
            packet.stream = stream
            out.mux(packet)


__all__ = ["ClipRecorder", "ClipsConfig"]
