"""Encoders side by side: each encoder runs in its own worker thread (its lane).

Every lane takes windows in the order they were submitted, so each stateful encoder still sees
windows one at a time, in order; different encoders work at the same time, and a fast one may run
ahead on later windows while a slow one is still on an earlier one. The heavy work (OpenCV, torch,
CTranslate2, onnxruntime) releases the GIL, so on a multi-core machine the lanes really overlap.

An encoder that can batch (it has ``batch(windows)``) and whose section allows it
(``batch_size > 1``) gets up to ``batch_size`` of its waiting windows in one call: a lane that falls
behind catches up in larger calls; one that keeps up still gets one window at a time.

:meth:`Lanes.submit` returns a :class:`Pending` whose :meth:`~Pending.result` gives the features in
encoder order, re-raising the first encoder exception (with its worker traceback). :meth:`Lanes.close`
cancels what has not started and joins every worker, so no thread outlives the run.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from typing import Sequence

from ..align.window import Window
from ..encode.base import Encoder, Features


class Pending:
    """The features of one window, as its lanes finish them."""

    def __init__(self, futures: list[Future]) -> None:
        self._futures = futures

    def done(self) -> bool:
        return all(f.done() for f in self._futures)

    def result(self) -> list[Features]:
        return [f.result() for f in self._futures]


def batch_size(encoder: Encoder) -> int:
    """How many windows one call of ``encoder`` may take (1 unless it has ``batch``)."""
    if not callable(getattr(encoder, "batch", None)):
        return 1
    return max(1, int(getattr(getattr(encoder, "config", None), "batch_size", 1)))


class Lane:
    """One encoder's worker thread and its queue of windows."""

    def __init__(self, encoder: Encoder, name: str) -> None:
        self.encoder = encoder
        self.batch = batch_size(encoder)
        self._queue: deque[tuple[Window, Future]] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self.cpu_seconds = 0.0  # CPU time this lane's thread spent in the encoder
        self._thread = threading.Thread(target=self._work, name=f"{name}:{encoder.name}", daemon=True)
        self._thread.start()

    def submit(self, window: Window) -> Future:
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("lane is closed")
            self._queue.append((window, future))
            self._cond.notify()
        return future

    def close(self) -> None:
        """Cancel the windows not started yet, finish the call in progress, join the thread."""
        with self._cond:
            self._closed = True
            while self._queue:
                self._queue.popleft()[1].cancel()
            self._cond.notify()
        self._thread.join()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if self._closed and not self._queue:
                    return
                items = [self._queue.popleft() for _ in range(min(self.batch, len(self._queue)))]
            items = [(w, f) for w, f in items if f.set_running_or_notify_cancel()]
            if not items:
                continue
            began = time.thread_time()
            try:
                if len(items) == 1:
                    results = [self.encoder(items[0][0])]
                else:
                    results = list(self.encoder.batch([w for w, _ in items]))  # type: ignore[attr-defined]
                    if len(results) != len(items):
                        raise RuntimeError(f"{self.encoder.name}.batch() returned {len(results)} results "
                                           f"for {len(items)} windows")
            except BaseException as exc:  # noqa: BLE001 - handed to the caller with its traceback
                for _, f in items:
                    f.set_exception(exc)
                continue
            finally:
                self.cpu_seconds += time.thread_time() - began
            for (_, f), result in zip(items, results):
                f.set_result(result)


class Lanes:
    def __init__(self, encoders: Sequence[Encoder], name: str = "encode") -> None:
        self.encoders = list(encoders)
        self._lanes = [Lane(enc, name) for enc in self.encoders]

    def submit(self, window: Window) -> Pending:
        return Pending([lane.submit(window) for lane in self._lanes])

    def close(self) -> None:
        for lane in self._lanes:
            lane.close()

    def cpu_seconds(self) -> dict[str, float]:
        """CPU seconds each encoder's lane has spent so far (what each part costs)."""
        return {lane.encoder.name: round(lane.cpu_seconds, 3) for lane in self._lanes}


__all__ = ["Lanes", "Lane", "Pending", "batch_size"]
