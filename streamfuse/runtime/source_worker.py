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
from ..decode.payloads import VideoFrame
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


class FramePacker:
    """Worker side: ``pack(window)`` -> ``(window without frames, times of frames sent before, new frames)``."""

    def __init__(self) -> None:
        self._newest: Fraction | None = None

    def pack(self, window: Window) -> tuple[Window, tuple[Fraction, ...], tuple[VideoFrame, ...]]:
        newest = self._newest
        old = tuple(f.time for f in window.frames if newest is not None and f.time <= newest)
        new = window.frames[len(old):]
        if window.frames:
            self._newest = window.frames[-1].time if newest is None else max(newest, window.frames[-1].time)
        return window.copy(frames=()), old, new


class FrameUnpacker:
    """Parent side: rebuilds each window's frames; keeps frames from the latest window's start on."""

    def __init__(self) -> None:
        self._frames: dict[Fraction, VideoFrame] = {}

    def unpack(self, packed: tuple[Window, tuple[Fraction, ...], tuple[VideoFrame, ...]]) -> Window:
        bare, old, new = packed
        for frame in new:
            self._frames[frame.time] = frame
        frames = tuple(self._frames[t] for t in old) + new
        for t in [t for t in self._frames if t < bare.start]:
            del self._frames[t]
        return bare.copy(frames=frames)


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
