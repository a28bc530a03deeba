"""Encoders side by side: each encoder runs in its own worker thread (its lane).

Every lane takes windows in the order they were submitted, so each stateful encoder still sees
windows one at a time, in order; different encoders work at the same time, and a fast one may run
ahead on later windows while a slow one (HOG people) is still on an earlier one. The heavy work
(OpenCV, torch, CTranslate2) releases the GIL, so on a multi-core machine the lanes really overlap.

:meth:`Lanes.submit` returns a :class:`Pending` whose :meth:`~Pending.result` gives the features in
encoder order, re-raising the first encoder exception (with its worker traceback). :meth:`Lanes.close`
cancels what has not started and joins every worker, so no thread outlives the run.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
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


class Lanes:
    def __init__(self, encoders: Sequence[Encoder], name: str = "encode") -> None:
        self.encoders = list(encoders)
        self._pools = [ThreadPoolExecutor(1, thread_name_prefix=f"{name}:{enc.name}") for enc in self.encoders]

    def submit(self, window: Window) -> Pending:
        return Pending([pool.submit(enc, window) for pool, enc in zip(self._pools, self.encoders)])

    def close(self) -> None:
        for pool in self._pools:
            pool.shutdown(wait=True, cancel_futures=True)
