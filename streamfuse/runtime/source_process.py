"""The source stage (demux, decode, align) in a worker process, windows handed back as they come.

Demuxing, resampling and aligning are many small Python steps around FFmpeg calls. In the same
process they take turns on the GIL with the encoders and fusion, and on a 2-core machine the source
thread then waits for the GIL more than it works (``benchmarks/bench_perception.py`` prints the
ratio: 1.12-1.19 on 720p30 H.264 on 2 cores). A worker process has its own interpreter and GIL.

- Workers are plain child interpreters running :func:`.source_worker.main` (see that module for
  the protocol), not ``multiprocessing`` children: nothing is forked from this process
  (which holds encoder threads and model runtimes) and the caller's ``__main__`` is never re-imported,
  so a script needs no ``if __name__ == "__main__"`` guard.
- A worker serves one source at a time and is kept for the next one (an archive starts one
  worker, not one per file); one that was stopped early is killed instead.
- Iterating receives the windows one by one; the local runtime reads ahead with
  :class:`~.prefetch.Prefetch`, as for the in-process stage. Whatever is not received yet waits
  in the socket and then in the worker, so memory stays bounded.
- The worker reports ``opened`` before the first window, so a missing or non-media file is raised
  from the constructor, as with the in-process stage. A user error raised in the worker is raised
  here as itself; anything else becomes :class:`~streamfuse.errors.StageError` ``('source', ...)``
  with the worker's traceback; a worker that dies (killed, a crash in native code) is a
  ``StageError`` naming its exit code.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import threading
from multiprocessing.connection import Connection
from typing import Any, Iterator

from ..align.window import Window
from ..config.pipeline import PipelineConfig
from ..decode.demux import DemuxReport
from ..errors import StageError
from ..sources.resolve import Source
from .source_stage import SourceSettings
from .source_worker import FrameUnpacker

_MAIN = "import sys; from streamfuse.runtime.source_worker import main; sys.exit(main(sys.argv[1:]))"
#: idle workers kept for the next source
_KEEP = 2


class _Worker:
    """One worker process and this end of its connection."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair()
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))  # the same streamfuse
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-c", _MAIN, str(theirs.fileno())],
                pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, env=env)
        except OSError as exc:
            ours.close()
            raise StageError("source", f"could not start a decoding process ({exc}); "
                             "set runtime.source_worker=thread to decode in this process") from None
        finally:
            theirs.close()
        self.conn = Connection(ours.detach())

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        self.conn.close()
        if self.alive():
            self.process.kill()
        self.process.wait()


class _Pool:
    def __init__(self) -> None:
        self._idle: list[_Worker] = []
        self._lock = threading.Lock()
        atexit.register(self.shutdown)

    def acquire(self) -> _Worker:
        with self._lock:
            while self._idle:
                worker = self._idle.pop()
                if worker.alive():
                    return worker
                worker.kill()
        return _Worker()

    def release(self, worker: _Worker) -> None:
        with self._lock:
            if len(self._idle) < _KEEP and worker.alive():
                self._idle.append(worker)
                return
        worker.kill()

    def pids(self) -> list[int]:
        """Process ids of the idle workers (for measurements)."""
        with self._lock:
            return [w.process.pid for w in self._idle if w.alive()]

    def shutdown(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for worker in idle:
            worker.kill()


_pool = _Pool()


class SourceProcess:
    """Iterates the windows of ``source`` decoded in a worker process; ``report`` once exhausted."""

    def __init__(self, source: Source, config: PipelineConfig) -> None:
        self.source = source
        self.report: DemuxReport | None = None
        self._idle = False  # the worker finished its source and may serve another
        self._closed = False
        self._worker = _pool.acquire()
        try:
            self._worker.conn.send(("run", source, SourceSettings.of(config)))
            self._take("opened")
        except BaseException:
            self.close()
            raise

    def _take(self, *expected: str) -> tuple[str, Any]:
        """The next message, one of ``expected``; an error or a dead worker is raised."""
        try:
            kind, payload = self._worker.conn.recv()
        except (EOFError, OSError):
            raise StageError("source", f"the decoding process for {self.source.display} ended unexpectedly "
                             f"(exit code {self._worker.process.poll()})") from None
        if kind == "error":
            self._idle = True  # it reported the error and waits for the next source
            exc, described, tb = payload
            raise exc if exc is not None else StageError("source", described, tb)
        if kind not in expected:
            raise StageError("source", f"unexpected message {kind!r} from the decoding process")
        return kind, payload

    def __iter__(self) -> Iterator[Window]:
        frames = FrameUnpacker()
        try:
            while True:
                kind, payload = self._take("window", "end")
                if kind == "end":
                    self.report, self._idle = payload, True
                    return
                yield frames.unpack(payload)
        finally:
            self.close()

    def close(self) -> None:
        """Release the worker when it finished its source, else kill it (which also ends a receive
        blocked in another thread); idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._idle:
            _pool.release(self._worker)
        else:
            self._worker.kill()
