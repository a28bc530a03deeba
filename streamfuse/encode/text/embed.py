"""Sentence embeddings of a window's text with the bundled all-MiniLM-L6-v2."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ...align.window import Window
from ...spec import Resources, StageSection, StageSpec, pick_device
from ..base import BaseEncoder, Features
from .models import load_sentence_model, locate_text_model


@dataclass(frozen=True)
class TextConfig(StageSection):
    """Sentence embeddings of transcripts and descriptions with the bundled all-MiniLM-L6-v2.

    ``model`` is ``bundled:all-MiniLM-L6-v2``, a local sentence-transformers folder, or a Hugging
    Face model id already in the local Hugging Face cache.
    """

    model: str = "bundled:all-MiniLM-L6-v2"


_CACHE_SIZE = 512  # texts whose embeddings a TextEncoder remembers (overlapping windows repeat them)


class TextEmbedder:
    """``embed(texts) -> (n, dim)`` unit-length float32 vectors; the model loads on first use, once per process.

    The model location is checked when the embedder is made, so a missing model fails early with
    :class:`~streamfuse.errors.ModelLoadError`.
    """

    def __init__(self, model: str = "bundled:all-MiniLM-L6-v2", device: str = "cpu") -> None:
        self.model_name = model
        self.device = device
        locate_text_model(model).require()
        self._model = None

    @property
    def dim(self) -> int:
        return int(self._load().get_embedding_dimension())

    def _load(self):
        if self._model is None:
            self._model = load_sentence_model(self.model_name, self.device)
        return self._model

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of texts, not one string")
        model = self._load()
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = model.encode(list(texts), batch_size=32, convert_to_numpy=True, normalize_embeddings=True,
                               show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def _torch_cuda() -> bool:
    import torch

    return torch.cuda.is_available()


class TextEncoder(BaseEncoder):
    """Embeds each window's text: its subtitle and transcript segments, plus any ``extra`` text given.

    Not a lane of its own (``per_window=False``): the rule fuser embeds each window's description
    and transcript with it (``text.window`` in the embeddings sidecar), and the event server matches
    text queries with the same model. Summary ``{"text": ...}`` (empty when the window has no text);
    ``embeddings["text"]`` is the unit vector of that text (none when there is no text). Embeddings
    are cached by text, so the same cue seen by two overlapping windows is embedded once.
    """

    spec = StageSpec(
        key="text", config=TextConfig, modality="text", per_window=False,
        models=lambda section: [locate_text_model(section.model).info()],
        resources=Resources(cpus=0.25, devices=("cpu", "cuda")),
    )

    def __init__(self, config: TextConfig | None = None) -> None:
        self.config = config or TextConfig()
        self.embedder = TextEmbedder(self.config.model, pick_device(self.config, self.spec, _torch_cuda))
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def __call__(self, window: Window, extra: Sequence[str] = ()) -> Features:
        parts = [seg.text.strip() for seg in sorted(window.segments, key=lambda s: (s.start, s.end))]
        parts += [t.strip() for t in extra]
        text = " ".join(p for p in parts if p)
        if not text:
            return self.empty(text="")
        return Features(self.name, self.modality, summary={"text": text}, embeddings={"text": self.embedding(text)})

    def embedding(self, text: str) -> np.ndarray:
        """The (cached, read-only) unit vector of ``text``, float32."""
        if text in self._cache:
            self._cache.move_to_end(text)
            return self._cache[text]
        vector = np.array(self.embedder.embed([text])[0], dtype=np.float32)
        vector.flags.writeable = False
        self._cache[text] = vector
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return vector
