"""Live text queries against image embeddings: ``query.match`` events.

A live subscriber's text query (``q=`` on ``/events`` or ``/ws``) is added to :class:`LiveQueries`
while it is subscribed. With an image-text model configured (``models.image_text``), every window's
embedded frames are scored against each query (cosine similarity of the query's text embedding and
the frame's image embedding, the best frame of the window), the score is calibrated against that
query's running score distribution on the feed (:class:`~.calibrate.RunningCalibrator`), and a
window whose calibrated score reaches ``threshold`` gives a ``streamfuse.query.match`` event:
``label`` the query, ``confidence`` the raw score clipped to 0-1, ``evidence`` ``score``, ``z``,
``frame`` (seconds: the best frame) and ``via: "image-text"``. The event server delivers each to
the subscribers of its query.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Callable

import numpy as np

from .calibrate import THRESHOLD, RunningCalibrator


class _Query:
    def __init__(self, vector: np.ndarray, history: int, warmup: int) -> None:
        self.vector = vector
        self.calibrator = RunningCalibrator(history, warmup)
        self.subscribers = 0


class LiveQueries:
    """The queries of live subscribers, and the ``query.match`` events of each window.

    ``embed_text(texts) -> (n, d)`` unit vectors in the image embeddings' space."""

    def __init__(self, embed_text: Callable[[list[str]], np.ndarray], threshold: float = THRESHOLD,
                 history: int = 256, warmup: int = 8) -> None:
        self._embed = embed_text
        self.threshold = threshold
        self.history = history
        self.warmup = warmup
        self._queries: dict[str, _Query] = {}
        self._lock = threading.Lock()
        self._seq = 0
        self._run = f"query{uuid.uuid4().hex[:6]}"

    def add(self, query: str) -> None:
        """A subscriber of ``query`` came (its text is embedded once, on first use)."""
        with self._lock:
            if query not in self._queries:
                self._queries[query] = _Query(np.asarray(self._embed([query])[0], np.float32), self.history,
                                              self.warmup)
            self._queries[query].subscribers += 1

    def remove(self, query: str) -> None:
        """A subscriber of ``query`` left; the query and its running distribution go with the last one."""
        with self._lock:
            q = self._queries.get(query)
            if q is not None:
                q.subscribers -= 1
                if q.subscribers <= 0:
                    del self._queries[query]

    def queries(self) -> list[str]:
        with self._lock:
            return list(self._queries)

    def observe(self, source_id: str, record: dict[str, Any], embeddings: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """The ``query.match`` events of one window (its record and its named embeddings)."""
        from ..events.cloudevents import make_event

        times = (record.get("video", {}).get("image_text") or {}).get("frames") or []
        frames = [(float(t), embeddings[f"image_text.frame.{i}"]) for i, t in enumerate(times)
                  if f"image_text.frame.{i}" in embeddings]
        if not frames:
            return []
        matrix = np.stack([v for _, v in frames])
        out = []
        with self._lock:
            for text, q in self._queries.items():
                scores = matrix @ q.vector
                best = int(np.argmax(scores))
                score = float(scores[best])
                z = q.calibrator.update(score)
                if z is None or z < self.threshold:
                    continue
                self._seq += 1
                out.append(make_event(
                    source_id=source_id, subject=source_id, type="query.match", seq=self._seq, phase="instant",
                    event_id=f"{source_id}-query.match-{self._seq}", start=record["start"], end=record["end"],
                    confidence=min(max(score, 0.0), 1.0), modalities=("video",), label=text, run=self._run,
                    evidence={"score": round(score, 4), "z": round(z, 2), "frame": frames[best][0],
                              "via": "image-text"}))
        return out


def live_queries(config: Any) -> LiveQueries | None:
    """The live queries of a ``watch`` with an image-text model configured (its text tower loaded
    now, so a model that cannot load fails at start-up); ``None`` without one."""
    section = config.encoders.section("image_text")
    if not (config.encoders.enabled and section.enabled):
        return None
    from ..encode.foundation import _hf
    from ..encode.foundation.image_text import ImageTextEncoder, load_image_text
    from ..spec import pick_device

    model = load_image_text(section, pick_device(section, ImageTextEncoder.spec, _hf.cuda_available))
    return LiveQueries(model.texts, threshold=section.match_threshold)


def window_hook(queries: LiveQueries, emit: Callable[[dict[str, Any]], None]):
    """A live pipeline's ``on_window``: each window's ``query.match`` events go to ``emit``."""
    def on_window(window: Any, fused: Any, latency: float | None) -> None:
        for event in queries.observe(window.source_id, fused.record, fused.embeddings):
            emit(event)

    return on_window
