"""Heavy models loaded once for a whole fleet, and the detector's work batched across cameras.

Encoders keep per-camera state (trackers, rate gates, audio buffers), so every camera has its own
encoder instances; what they share is the network inside:

- **objects** (SSD MobileNet v2): one :class:`BatchingDetector` per distinct detector setting. Each
  camera's encoder calls it with its due frames and waits; a worker thread takes every request
  waiting at that moment (from any number of cameras, up to ``max_images`` frames) and runs them
  through the network as one call, then hands each camera its own results.
- **sounds** (YAMNet): one loaded model, used by every camera behind a lock.
- **asr** (Whisper) and **text** (the sentence model, also fusion's): loaded once per process per
  setting by their loaders (:mod:`streamfuse.encode.text.models`), so every camera already uses the
  same one (CTranslate2 and the transformers models are safe to call from several threads).
- the cheap encoders (motion, loudness, faces' cascades, people's HOG, the VAD) are built per camera.

:class:`ModelPool.encoders(config)` builds one camera's encoders, in lane order, from the shared pool.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .. import registry
from ..config.pipeline import EncodersConfig


@dataclass
class BatchStats:
    calls: int = 0        # network calls made
    images: int = 0       # frames sent through the network
    requests: int = 0     # camera requests served
    max_requests: int = 0  # the most camera requests one call served
    shared_calls: int = 0  # calls that served more than one request


class BatchingDetector:
    """Calls ``detector(images) -> results`` for several callers at once (see the module doc).

    ``__call__(images)`` has the detector's signature, so an encoder takes it in place of its own.
    ``more`` are further copies of the detector, each served by a worker thread of its own (calls
    run side by side on several cores; each copy is used by one thread only)."""

    def __init__(self, detector: Callable[[Sequence[Any]], list[Any]], max_images: int = 32,
                 name: str = "detector", more: Sequence[Callable[[Sequence[Any]], list[Any]]] = ()) -> None:
        self.detector = detector
        self.name = name
        self.max_images = max(1, max_images)
        self.stats = BatchStats()
        self._waiting: deque[tuple[list[Any], Future]] = deque()
        self._cond = threading.Condition()
        self._stats_lock = threading.Lock()
        self._closed = False
        self._threads = [threading.Thread(target=self._work, args=(d,), name=f"fleet-{name}-{i}", daemon=True)
                         for i, d in enumerate([detector, *more])]
        for t in self._threads:
            t.start()

    def __call__(self, images: Sequence[Any]) -> list[Any]:
        images = list(images)
        if not images:
            return []
        future: Future = Future()
        with self._cond:
            if self._closed:
                raise RuntimeError("the shared detector is closed")
            self._waiting.append((images, future))
            self._cond.notify()
        return future.result()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        for t in self._threads:
            t.join(10)
        while self._waiting:
            self._waiting.popleft()[1].set_exception(RuntimeError("the shared detector is closed"))

    def _take(self) -> list[tuple[list[Any], Future]]:
        with self._cond:
            while not self._waiting and not self._closed:
                self._cond.wait()
            if self._closed:
                return []
            batch = [self._waiting.popleft()]
            n = len(batch[0][0])
            while self._waiting and n + len(self._waiting[0][0]) <= self.max_images:
                item = self._waiting.popleft()
                batch.append(item)
                n += len(item[0])
            return batch

    def _work(self, detector: Callable[[Sequence[Any]], list[Any]]) -> None:
        while True:
            batch = self._take()
            if not batch:
                return
            images = [img for imgs, _ in batch for img in imgs]
            try:
                results = list(detector(images))
                if len(results) != len(images):
                    raise RuntimeError(f"detector returned {len(results)} results for {len(images)} images")
            except BaseException as exc:  # noqa: BLE001 - each caller re-raises it
                for _, f in batch:
                    f.set_exception(exc)
                continue
            with self._stats_lock:
                s = self.stats
                s.calls += 1
                s.images += len(images)
                s.requests += len(batch)
                s.max_requests = max(s.max_requests, len(batch))
                s.shared_calls += len(batch) > 1
            k = 0
            for imgs, f in batch:
                f.set_result(results[k:k + len(imgs)])
                k += len(imgs)


class LockedModel:
    """A model used by several threads in turn: ``scores(...)`` under one lock; other attributes pass through."""

    def __init__(self, model: Any) -> None:
        self._model = model
        self._lock = threading.Lock()
        self.wait_seconds = 0.0

    def scores(self, *args: Any, **kwargs: Any) -> Any:
        t0 = time.perf_counter()
        with self._lock:
            self.wait_seconds += time.perf_counter() - t0
            return self._model.scores(*args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._model, name)


class ModelPool:
    """The fleet's shared models (see the module doc); ``shared=False`` builds every camera its own
    (the per-process baseline the benchmark compares with)."""

    def __init__(self, shared: bool = True, detector_workers: int = 1) -> None:
        self.shared = shared
        self.detector_workers = max(1, detector_workers)
        self.detectors: dict[tuple, BatchingDetector] = {}
        self.yamnets: dict[tuple, LockedModel] = {}
        self._lock = threading.RLock()

    def detector(self, section: Any) -> Any:
        from ..encode.video._ssd import SsdDetector
        from ..encode.video.objects import _GRIDS

        c = section
        cols, rows = _GRIDS[c.tiles]
        min_score = min([c.low_score, *c.scores().values()])
        key = (c.input_size, cols, rows, c.tile_overlap, min_score, c.max_crops)
        make = lambda: SsdDetector(c.input_size, cols, rows, c.tile_overlap, min_score=min_score,  # noqa: E731
                                   batch=c.max_crops)
        if not self.shared:
            return make()
        with self._lock:
            if key not in self.detectors:
                self.detectors[key] = BatchingDetector(
                    make(), max_images=max(8, 4 * c.max_crops), name=f"objects-{len(self.detectors) + 1}",
                    more=[make() for _ in range(self.detector_workers - 1)])
            return self.detectors[key]

    def yamnet(self) -> Any:
        from ..encode.audio._yamnet import YamNet

        if not self.shared:
            return YamNet()
        with self._lock:
            if () not in self.yamnets:
                self.yamnets[()] = LockedModel(YamNet())
            return self.yamnets[()]

    def encoders(self, config: EncodersConfig) -> list[Any]:
        """One camera's encoders, in lane order, with the pool's shared models inside."""
        out = []
        for cls, section in registry.enabled(config):
            key = cls.spec.key
            if key == "objects" and cls.__module__ == "streamfuse.encode.video.objects":
                out.append(cls(section, detector=self.detector(section)))
            elif key == "sounds" and cls.__module__ == "streamfuse.encode.audio.tags":
                out.append(cls(section, model=self.yamnet()))
            else:
                out.append(cls(section))
        return out

    def stats(self) -> dict[str, Any]:
        return {"detectors": {d.name: vars(d.stats) for d in self.detectors.values()},
                "sounds_lock_wait_seconds": round(sum(m.wait_seconds for m in self.yamnets.values()), 3)}

    def close(self) -> None:
        for d in self.detectors.values():
            d.close()


__all__ = ["BatchingDetector", "LockedModel", "ModelPool"]
