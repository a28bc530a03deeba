"""Audio-text matching with CLAP (``models.audio_text``): per-window audio embeddings in the same
space as text, zero-shot sound labels, and the text side ``match`` and live ``query.match`` use.

``ClapModel`` (or another ``AutoModel`` with ``get_audio_features`` and ``get_text_features``)
with its ``AutoProcessor``, from a folder or the local Hugging Face cache, under
``torch.inference_mode``. Each window's audio is resampled to the feature extractor's rate and,
when longer than its ``max_length_s``, its middle part is taken (never a random crop: the same
window always gives the same vector). The windows of one batch call go through the audio tower
together, ``clip_batch`` at a time.

Per window: ``embeddings["audio"]`` (unit; ``embeddings/audio_text.audio.npy``), and with a label
list ``labels`` (softmax over the prompts of the model's audio logit scale x cosine) and summary
``label`` / ``score``. A tiny random model (as in the tests) proves the plumbing, not accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...errors import ConfigError
from ..base import BaseEncoder, Features
from . import _hf
from ._audio import window_audio


@dataclass(frozen=True)
class AudioTextConfig(_hf.RoleSection):
    """Audio-text matching (``models.audio_text`` sets ``model``; on when a model is set)."""

    role = "audio_text"

    clip_batch: int = bounded(8, 1, 1024, doc="windows' audio per pass of the audio tower")
    labels: tuple[str, ...] = ()  # zero-shot sound labels, e.g. [a dog barking, a bell, music]
    prompt: str = "the sound of {}"  # each label is put into this prompt ({} is the label)
    top_labels: int = bounded(3, 1, 100, doc="zero-shot labels kept per window")

    def check(self) -> None:
        super().check()
        if "{}" not in self.prompt:
            raise ConfigError(f"prompt: {self.prompt!r} must hold {{}} where the label goes")


class AudioTextModel:
    """A loaded audio-text model: ``audios(list of samples at .rate) -> (n, d)`` and ``texts(list
    of str) -> (n, d)`` unit float32 vectors."""

    def __init__(self, path: str, device: str) -> None:
        import torch
        from transformers import AutoModel, AutoProcessor

        self._torch = torch
        self.device = device
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval().to(device)
        if not (hasattr(self.model, "get_audio_features") and hasattr(self.model, "get_text_features")):
            raise ConfigError(f"{type(self.model).__name__} has no audio and text towers (get_audio_features / "
                              "get_text_features); models.audio_text needs a CLAP-style model")
        extractor = getattr(self.processor, "feature_extractor", self.processor)
        self.rate = int(getattr(extractor, "sampling_rate", 48000))
        self.max_seconds = getattr(extractor, "max_length_s", None)
        scale = getattr(self.model, "logit_scale_a", None)
        self.logit_scale = float(scale.detach().exp()) if scale is not None else 100.0

    def _unit(self, x: Any) -> np.ndarray:
        x = self._torch.nn.functional.normalize(_hf.output_tensor(x).float(), dim=-1)
        return x.cpu().numpy().astype(np.float32)

    def audios(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        with self._torch.inference_mode():
            inputs = self.processor(audio=list(clips), sampling_rate=self.rate, return_tensors="pt").to(self.device)
            keep = {k: v for k, v in inputs.items() if k in ("input_features", "is_longer")}
            return self._unit(self.model.get_audio_features(**keep))

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        with self._torch.inference_mode():
            inputs = self.processor(text=list(texts), return_tensors="pt", padding=True).to(self.device)
            keep = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            return self._unit(self.model.get_text_features(**keep))


def load_audio_text(config: AudioTextConfig, device: str) -> AudioTextModel:
    _hf.set_threads(config.threads)
    return _hf.load("audio_text", config.model, device, lambda path: AudioTextModel(path, device))


class AudioTextEncoder(BaseEncoder):
    """CLAP audio embeddings of each window, and zero-shot sound labels (see the module doc)."""

    spec = _hf.role_spec("audio_text", AudioTextConfig, "audio", "audio-text matching (models.audio_text)")

    def __init__(self, config: AudioTextConfig | None = None) -> None:
        self.config = c = config or AudioTextConfig()
        self.device = _hf.role_device(self, c)
        self.model = load_audio_text(c, self.device)
        self._label_vectors = self.model.texts([c.prompt.format(x) for x in c.labels]) if c.labels else None

    def __call__(self, window: Window) -> Features:
        return self.batch([window])[0]

    def batch(self, windows: list[Window]) -> list[Features]:
        """All windows' audio through the audio tower together (equal to one by one)."""
        clips = [window_audio(w, self.model.rate, self.model.max_seconds) for w in windows]
        todo = [i for i, clip in enumerate(clips) if clip is not None]
        vectors: dict[int, np.ndarray] = {}
        for k in range(0, len(todo), self.config.clip_batch):
            chunk = todo[k:k + self.config.clip_batch]
            vectors.update(zip(chunk, self.model.audios([clips[i] for i in chunk])))
        return [self._report(vectors.get(i)) for i in range(len(windows))]

    def _report(self, vector: np.ndarray | None) -> Features:
        if vector is None:
            return self.empty()
        summary: dict[str, Any] = {}
        labels: tuple[tuple[str, float], ...] = ()
        if self._label_vectors is not None:
            logits = self.model.logit_scale * (self._label_vectors @ vector)
            probs = np.exp(logits - logits.max())
            probs /= probs.sum()
            order = np.argsort(-probs, kind="stable")[: self.config.top_labels]
            labels = tuple((self.config.labels[i], round(float(probs[i]), 4)) for i in order)
            summary["label"], summary["score"] = labels[0]
        return Features(self.name, self.modality, summary=summary, embeddings={"audio": vector}, labels=labels)
