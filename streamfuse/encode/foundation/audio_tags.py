"""Sound labels from any Hugging Face audio classifier (``models.audio_tags``): the Audio
Spectrogram Transformer (``ASTForAudioClassification``, AudioSet's 527 classes) or another model
``AutoModelForAudioClassification`` loads with its ``AutoFeatureExtractor``, under
``torch.inference_mode``; the windows of one batch call are classified together.

Per window: ``labels`` (the top ``top_labels`` classes with their scores: sigmoid for multi-label
models such as AudioSet's, softmax otherwise, or as ``activation`` says) and summary ``top``
(label -> score). They feed ``match`` (ConSE over the label names) and the window record; the
bundled YAMNet (``encoders.sounds``) stays the one that raises ``sound`` events. A tiny random
model (as in the tests) proves the plumbing, not accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Sequence

import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ..base import BaseEncoder, Features
from . import _hf
from ._audio import window_audio


@dataclass(frozen=True)
class AudioTagsConfig(_hf.RoleSection):
    """Audio classification (``models.audio_tags`` sets ``model``; on when a model is set)."""

    role = "audio_tags"

    activation: Literal["auto", "sigmoid", "softmax"] = "auto"  # auto: sigmoid for multi-label models
    top_labels: int = bounded(5, 1, 100, doc="labels kept per window")
    clip_batch: int = bounded(8, 1, 1024, doc="windows' audio per pass of the classifier")


class AudioClassifier:
    def __init__(self, path: str, device: str, activation: str) -> None:
        import torch
        from transformers import AutoFeatureExtractor, AutoModelForAudioClassification

        self._torch = torch
        self.device = device
        self.extractor = AutoFeatureExtractor.from_pretrained(path, local_files_only=True)
        self.model = AutoModelForAudioClassification.from_pretrained(path, local_files_only=True).eval().to(device)
        self.rate = int(getattr(self.extractor, "sampling_rate", 16000))
        config = self.model.config
        self.labels = [config.id2label[i] for i in range(config.num_labels)]
        multi = getattr(config, "problem_type", None) == "multi_label_classification" or len(self.labels) > 100
        self.sigmoid = activation == "sigmoid" or (activation == "auto" and multi)

    def scores(self, clips: Sequence[np.ndarray]) -> np.ndarray:
        torch = self._torch
        with torch.inference_mode():
            inputs = self.extractor(list(clips), sampling_rate=self.rate, return_tensors="pt").to(self.device)
            logits = self.model(**inputs).logits.float()
            probs = torch.sigmoid(logits) if self.sigmoid else torch.softmax(logits, dim=-1)
            return probs.cpu().numpy()


def load_classifier(config: AudioTagsConfig, device: str) -> AudioClassifier:
    _hf.set_threads(config.threads)
    return _hf.load("audio_tags", config.model, device, lambda path: AudioClassifier(path, device, config.activation))


class AudioTagsEncoder(BaseEncoder):
    """The top sound labels of each window's audio (see the module doc)."""

    spec = _hf.role_spec("audio_tags", AudioTagsConfig, "audio", "audio classification (models.audio_tags)")

    def __init__(self, config: AudioTagsConfig | None = None) -> None:
        self.config = c = config or AudioTagsConfig()
        self.device = _hf.role_device(self, c)
        self.model = load_classifier(c, self.device)

    def __call__(self, window: Window) -> Features:
        return self.batch([window])[0]

    def batch(self, windows: list[Window]) -> list[Features]:
        clips = [window_audio(w, self.model.rate) for w in windows]
        todo = [i for i, clip in enumerate(clips) if clip is not None]
        rows: dict[int, np.ndarray] = {}
        for k in range(0, len(todo), self.config.clip_batch):
            chunk = todo[k:k + self.config.clip_batch]
            rows.update(zip(chunk, self.model.scores([clips[i] for i in chunk])))
        out = []
        for i in range(len(windows)):
            if i not in rows:
                out.append(self.empty())
                continue
            order = np.argsort(-rows[i], kind="stable")[: self.config.top_labels]
            labels = tuple((self.model.labels[j], round(float(rows[i][j]), 4)) for j in order)
            out.append(Features(self.name, self.modality, summary={"top": dict(labels)}, labels=labels))
        return out
