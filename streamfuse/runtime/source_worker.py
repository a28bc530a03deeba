"""The decoding worker process: :func:`main` with the number of an inherited socket, ``FD``.

It talks to its parent over the socket ``FD`` with :class:`multiprocessing.connection.Connection`
messages, one source at a time, for as long as the parent keeps it:

    parent -> worker   ("run", source, config)
    worker -> parent   ("opened", None), then ("window", packed window)..., then ("end", report)
                       or, at any point, ("error", (exception or None, "Type: message", traceback))

Overlapping windows share frames; a packed window carries only the frames not sent before, and the
times of the ones it shares (:class:`FramePacker`, :class:`FrameUnpacker`), which halves the bytes
that cross with the default 2 s / 1 s windows.

A user error (a :class:`~streamfuse.errors.StreamfuseError`) crosses as itself when it pickles;
anything else crosses as text and the parent raises ``StageError('source', ...)``. The worker
imports only the decoding side of streamfuse, ignores SIGINT (Ctrl-C is the parent's to handle)
and exits when the parent closes the connection.
"""

from __future__ import annotations

import pickle
import signal
import socket
import sys
import traceback
from fractions import Fraction
from multiprocessing.connection import Connection

from ..align.window import Window
from ..errors import StageError, StreamfuseError
from .source_stage import SourceStage


def portable(exc: BaseException) -> tuple[BaseException | None, str, str]:
    """``(exc if it crosses a process boundary intact, 'Type: message', traceback text)``."""
    described = f"{type(exc).__name__}: {exc}"
    tb = "".join(traceback.format_exception(exc))
    if not isinstance(exc, StreamfuseError) or isinstance(exc, StageError):
        return None, described, tb
    try:
        return pickle.loads(pickle.dumps(exc)), described, tb
    except Exception:
        return None, described, tb


class _Timed:
    """Worker side of one kind of timed picture (frames, thumbnails): each crosses the socket once,
    though overlapping windows hold it twice."""

    def __init__(self) -> None:
        self._newest: Fraction | None = None

    def pack(self, items: tuple) -> tuple[tuple[Fraction, ...], tuple]:
        newest = self._newest
        old = tuple(f.time for f in items if newest is not None and f.time <= newest)
        new = items[len(old):]
        if items:
            self._newest = items[-1].time if newest is None else max(newest, items[-1].time)
        return old, new


class _Held:
    """Parent side of :class:`_Timed`: keeps pictures from the latest window's start on."""

    def __init__(self) -> None:
        self._items: dict[Fraction, object] = {}

    def unpack(self, old: tuple[Fraction, ...], new: tuple, start: Fraction) -> tuple:
        for item in new:
            self._items[item.time] = item
        out = tuple(self._items[t] for t in old) + tuple(new)
        for t in [t for t in self._items if t < start]:
            del self._items[t]
        return out


class FramePacker:
    """Worker side: ``pack(window)`` -> ``(window without pictures, (times of frames sent before, new
    frames), (the same for thumbnails))``."""

    def __init__(self) -> None:
        self._frames, self._thumbs = _Timed(), _Timed()

    def pack(self, window: Window) -> tuple:
        return (window.copy(frames=(), thumbs=()), self._frames.pack(window.frames),
                self._thumbs.pack(window.thumbs))


class FrameUnpacker:
    """Parent side: rebuilds each window's frames and thumbnails."""

    def __init__(self) -> None:
        self._frames, self._thumbs = _Held(), _Held()

    def unpack(self, packed: tuple) -> Window:
        bare, frames, thumbs = packed
        return bare.copy(frames=self._frames.unpack(*frames, bare.start),
                         thumbs=self._thumbs.unpack(*thumbs, bare.start))


def serve(conn: Connection) -> None:
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return  # the parent is gone or done with us
        if message[0] != "run":
            return
        _, source, config = message
        try:
            stage = SourceStage(source, config)
            packer = FramePacker()
            conn.send(("opened", None))
            for window in stage:
                conn.send(("window", packer.pack(window)))
            conn.send(("end", stage.report))
        except (BrokenPipeError, ConnectionResetError):
            return
        except Exception as exc:  # handed to the parent, which raises it
            conn.send(("error", portable(exc)))


def main(argv: list[str] | None = None) -> int:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    fd = int((argv or sys.argv[1:])[0])
    sock = socket.socket(fileno=fd)
    conn = Connection(sock.detach())
    try:
        serve(conn)
    finally:
        conn.close()
    return 0
