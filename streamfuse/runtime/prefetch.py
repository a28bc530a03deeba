"""Run an iterator in a background thread, a bounded number of items ahead.

Decoding (FFmpeg) and encoding (OpenCV, torch) release the GIL, so the local runtime overlaps
them this way. The queue is bounded and the producer waits when it is full (files wait and never
drop). An exception in the producer is re-raised in the consumer with its traceback; ``close()``
stops the producer and joins it, so no thread is abandoned.
"""

from __future__ import annotations

import queue
import threading
from typing import Generic, Iterable, Iterator, TypeVar

T = TypeVar("T")
_END = object()


class Prefetch(Generic[T]):
    def __init__(self, items: Iterable[T], ahead: int = 2, name: str = "prefetch") -> None:
        if ahead < 1:
            raise ValueError("ahead must be >= 1")
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            for item in self._items:
                if not self._put((True, item)):
                    return
            self._put((True, _END))
        except BaseException as exc:  # handed to the consumer, which re-raises it
            self._put((False, exc))
        finally:
            close = getattr(self._items, "close", None)
            if close is not None and self._stop.is_set():
                close()

    def __iter__(self) -> Iterator[T]:
        try:
            while True:
                ok, item = self._queue.get()
                if not ok:
                    raise item
                if item is _END:
                    return
                yield item
        finally:
            self.close()

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            try:  # unblock a producer waiting on a full queue
                self._queue.get_nowait()
            except queue.Empty:
                pass
            self._thread.join(timeout=0.1)
