"""Live text queries against image embeddings: ``query.match`` events.

A live subscriber's text query (``q=`` on ``/events`` or ``/ws``) is added to :class:`LiveQueries`
while it is subscribed. With an image-text model configured (``models.image_text``), every window's
embedded frames are scored against each query (cosine similarity of the query's text embedding and
the frame's image embedding, the best frame of the window); with an audio-text model
(``models.audio_text``, CLAP) the window's audio embedding is too. Each score is calibrated against
that query's running score distribution on the feed for its path
(:class:`~.calibrate.RunningCalibrator`), and a window whose calibrated score reaches ``threshold``
gives a ``streamfuse.query.match`` event: ``label`` the query, ``confidence`` the raw score clipped
to 0-1, ``evidence`` ``score``, ``z``, ``via`` (``image-text`` or ``audio-text``) and, for
pictures, ``frame`` (seconds: the best frame). The event server delivers each to
the subscribers of its query.
"""

from __future__ import annotations

import threading
import uuid
from typing import Any, Callable

import numpy as np

from .calibrate import THRESHOLD, RunningCalibrator


class _Query:
    def __init__(self, vectors: dict[str, np.ndarray], history: int, warmup: int) -> None:
        self.vectors = vectors  # path -> the query's unit vector in that path's space
        self.calibrators = {path: RunningCalibrator(history, warmup) for path in vectors}
        self.subscribers = 0


def _frames(record: dict[str, Any], embeddings: dict[str, np.ndarray]) -> list[tuple[float | None, np.ndarray]]:
    times = (record.get("video", {}).get("image_text") or {}).get("frames") or []
    return [(float(t), embeddings[f"image_text.frame.{i}"]) for i, t in enumerate(times)
            if f"image_text.frame.{i}" in embeddings]


def _audio(record: dict[str, Any], embeddings: dict[str, np.ndarray]) -> list[tuple[float | None, np.ndarray]]:
    vector = embeddings.get("audio_text.audio")
    return [] if vector is None else [(None, vector)]


#: path -> (the window's vectors in that space, the modality its events cite)
_PATHS = {"image-text": (_frames, "video"), "audio-text": (_audio, "audio")}


class LiveQueries:
    """The queries of live subscribers, and the ``query.match`` events of each window.

    ``embed_text(texts) -> (n, d)`` unit vectors in the image embeddings' space (``image-text``);
    ``embed_audio_text`` the same for the audio embeddings' space (``audio-text``, CLAP). Each
    query is calibrated per path; a window gives at most one event per query, from the path in
    which it stands out most."""

    def __init__(self, embed_text: Callable[[list[str]], np.ndarray] | None, threshold: float = THRESHOLD,
                 history: int = 256, warmup: int = 8,
                 embed_audio_text: Callable[[list[str]], np.ndarray] | None = None) -> None:
        self._embed = {path: fn for path, fn in (("image-text", embed_text), ("audio-text", embed_audio_text))
                       if fn is not None}
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
                vectors = {path: np.asarray(fn([query])[0], np.float32) for path, fn in self._embed.items()}
                self._queries[query] = _Query(vectors, self.history, self.warmup)
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

        rows = {path: _PATHS[path][0](record, embeddings) for path in self._embed}
        out = []
        with self._lock:
            for text, q in self._queries.items():
                best: tuple[float, float, str, float | None] | None = None  # z, score, path, frame
                for path, items in rows.items():
                    if not items:
                        continue
                    scores = np.stack([v for _, v in items]) @ q.vectors[path]
                    i = int(np.argmax(scores))
                    z = q.calibrators[path].update(float(scores[i]))
                    if z is not None and z >= self.threshold and (best is None or z > best[0]):
                        best = (z, float(scores[i]), path, items[i][0])
                if best is None:
                    continue
                z, score, path, frame = best
                self._seq += 1
                evidence: dict[str, Any] = {"score": round(score, 4), "z": round(z, 2), "via": path}
                if frame is not None:
                    evidence["frame"] = frame
                out.append(make_event(
                    source_id=source_id, subject=source_id, type="query.match", seq=self._seq, phase="instant",
                    event_id=f"{source_id}-query.match-{self._seq}", start=record["start"], end=record["end"],
                    confidence=min(max(score, 0.0), 1.0), modalities=(_PATHS[path][1],), label=text,
                    run=self._run, evidence=evidence))
        return out


def live_queries(config: Any) -> LiveQueries | None:
    """The live queries of a ``watch`` with an image-text or audio-text model configured (their
    text towers loaded now, so a model that cannot load fails at start-up); ``None`` without."""
    from ..encode.foundation import _hf
    from ..spec import pick_device

    if not config.encoders.enabled:
        return None
    image, audio = config.encoders.section("image_text"), config.encoders.section("audio_text")
    embed_image = embed_audio = None
    if image.enabled:
        from ..encode.foundation.image_text import ImageTextEncoder, load_image_text

        embed_image = load_image_text(image, pick_device(image, ImageTextEncoder.spec, _hf.cuda_available)).texts
    if audio.enabled:
        from ..encode.foundation.audio_text import AudioTextEncoder, load_audio_text

        embed_audio = load_audio_text(audio, pick_device(audio, AudioTextEncoder.spec, _hf.cuda_available)).texts
    if embed_image is None and embed_audio is None:
        return None
    return LiveQueries(embed_image, threshold=image.match_threshold, embed_audio_text=embed_audio)


def window_hook(queries: LiveQueries, emit: Callable[[dict[str, Any]], None]):
    """A live pipeline's ``on_window``: each window's ``query.match`` events go to ``emit``."""
    def on_window(window: Any, fused: Any, latency: float | None) -> None:
        for event in queries.observe(window.source_id, fused.record, fused.embeddings):
            emit(event)

    return on_window
