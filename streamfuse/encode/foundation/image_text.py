"""Image-text matching with a CLIP-style model (``models.image_text``): per-window image embeddings,
zero-shot labels from a prompt list, and the text side that ``streamfuse match`` scores them with.

Any Hugging Face model with an image tower and a text tower in one shared space loads here
(``CLIPModel``, ``SiglipModel``, or another ``AutoModel`` with ``get_image_features`` and
``get_text_features``), from a local folder or the local Hugging Face cache, with its
``AutoProcessor``, under ``torch.inference_mode``.

At most ``rate`` frames per second are embedded (picked by timestamp, each frame once however many
windows hold it); the due frames of all the windows of one batch call go through the image tower
together, ``frame_batch`` at a time, so batched and one-by-one results are the same vectors.

Per window:

* ``embeddings["image"]``: the unit mean of the embedded frames' unit vectors in ``[start, end)``
  (``embeddings/image_text.image.npy`` in the sidecar), and ``embeddings["frame.<i>"]`` the unit
  vector of its ``i``-th embedded frame (at most ``max_frames``; their times are ``frames`` in
  the summary), which ``match`` uses to say which frame matched;
* summary ``{"frames": [seconds...], "label": best zero-shot label, "score": its probability}``;
* ``labels``: the top ``top_labels`` zero-shot labels with their probabilities (softmax over the
  prompt list of the model's logit scale times cosine similarity), in ``windows.jsonl`` under
  ``labels.image_text`` and named in the window's description (``looks like ...``).

The scores are only as good as the model: a tiny random model (as in the tests) proves the
plumbing, not accuracy.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Sequence

import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...errors import ConfigError
from ...spec import NUMBER, SECONDS, TEXT, EventKind, data
from ...timebase import to_float
from ..base import BaseEncoder, Features
from ..streams import StreamTracker
from ..video._frames import FrameCache, RateGate
from . import _hf


@dataclass(frozen=True)
class ImageTextConfig(_hf.RoleSection):
    """Image-text matching (``models.image_text`` sets ``model``; on when a model is set)."""

    role = "image_text"

    batch_size: int = bounded(4, 1, 4096, doc="windows one call may take when the lane falls behind (their due "
                                              "frames go through the model together)")
    rate: float = bounded(2.0, 0.05, 120.0, doc="frames per second embedded at most")
    frame_batch: int = bounded(16, 1, 1024, doc="frames per pass of the image tower")
    max_frames: int = bounded(8, 1, 256, doc="frame embeddings kept per window (for which frame matched)")
    labels: tuple[str, ...] = ()  # zero-shot label names, e.g. [car, dog, "a person walking"]
    prompt: str = "a photo of {}."  # each label is put into this prompt ({} is the label)
    top_labels: int = bounded(3, 1, 100, doc="zero-shot labels kept per window")
    match_threshold: float = bounded(3.0, 0.0, 100.0, doc="calibrated score (spreads above the query's usual "
                                                          "score on the feed) a live q= query needs for a "
                                                          "query.match event")

    def check(self) -> None:
        super().check()
        if "{}" not in self.prompt:
            raise ConfigError(f"prompt: {self.prompt!r} must hold {{}} where the label goes")


class ImageTextModel:
    """A loaded image-text model: ``images(list of HxWx3 uint8) -> (n, d)`` and ``texts(list of
    str) -> (n, d)`` unit float32 vectors, and ``logit_scale``."""

    def __init__(self, path: str, device: str) -> None:
        import torch
        from transformers import AutoModel, AutoProcessor

        self._torch = torch
        self.device = device
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval().to(device)
        if not (hasattr(self.model, "get_image_features") and hasattr(self.model, "get_text_features")):
            raise ConfigError(f"{type(self.model).__name__} has no image and text towers (get_image_features / "
                              "get_text_features); models.image_text needs a CLIP- or SigLIP-style model")
        scale = getattr(self.model, "logit_scale", None)
        self.logit_scale = float(scale.detach().exp()) if scale is not None else 100.0
        self.siglip = "siglip" in type(self.model).__name__.lower()

    def _unit(self, x: Any) -> np.ndarray:
        x = _hf.output_tensor(x).float()
        x = self._torch.nn.functional.normalize(x, dim=-1)
        return x.cpu().numpy().astype(np.float32)

    def images(self, images: Sequence[np.ndarray]) -> np.ndarray:
        with self._torch.inference_mode():
            inputs = self.processor(images=list(images), return_tensors="pt").to(self.device)
            return self._unit(self.model.get_image_features(pixel_values=inputs["pixel_values"]))

    def texts(self, texts: Sequence[str]) -> np.ndarray:
        kwargs = {"padding": "max_length", "max_length": 64} if self.siglip else {"padding": True}
        with self._torch.inference_mode():
            inputs = self.processor(text=list(texts), return_tensors="pt", truncation=True, **kwargs).to(self.device)
            keep = {k: v for k, v in inputs.items() if k in ("input_ids", "attention_mask")}
            return self._unit(self.model.get_text_features(**keep))


def load_image_text(config: ImageTextConfig, device: str) -> ImageTextModel:
    _hf.set_threads(config.threads)
    return _hf.load("image_text", config.model, device, lambda path: ImageTextModel(path, device))


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i:i + size]


def _unit_mean(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    return (mean / norm if norm > 0 else mean).astype(np.float32)


class ImageTextEncoder(BaseEncoder):
    """Image embeddings of sampled frames, per window, and zero-shot labels (see the module doc)."""

    spec = _hf.role_spec(
        "image_text", ImageTextConfig, "video", "image-text matching (models.image_text)",
        kinds=(EventKind("query.match", "instant", ("video", "audio"),
                         data(required=("label",), label=TEXT, score=NUMBER, z=NUMBER, frame=SECONDS, via=TEXT),
                         doc="a live subscriber's text query matched a window's picture or sound (label: the query)"),))

    def __init__(self, config: ImageTextConfig | None = None) -> None:
        self.config = c = config or ImageTextConfig()
        self.device = _hf.role_device(self, c)
        self.model = load_image_text(c, self.device)
        self._label_vectors = self.model.texts([c.prompt.format(x) for x in c.labels]) if c.labels else None
        self._streams = StreamTracker()
        self.embedded_frames = 0
        self._reset()

    def _reset(self) -> None:
        self._gate = RateGate(self.config.rate)
        self._seen: FrameCache[bool] = FrameCache()  # frames looked at (embedded or not due)
        self._vectors: dict[Fraction, np.ndarray] = {}  # embedded frames' unit vectors

    def __call__(self, window: Window) -> Features:
        return self.batch([window])[0]

    def batch(self, windows: list[Window]) -> list[Features]:
        """The due frames of all ``windows`` through the image tower together (equal to one by one)."""
        out: list[Features] = []
        group: list[Window] = []
        due: list[tuple[Fraction, np.ndarray]] = []
        for w in windows:
            if self._streams.is_new(w):
                if group:  # a new stream mid-batch: finish the windows before it first
                    out += self._finish(group, due)
                    group, due = [], []
                self._reset()
            group.append(w)
            for f in w.frames:
                if self._seen.is_new(f.time):
                    self._seen.put(f.time, True)
                    if self._gate.admit(f.time):
                        due.append((f.time, f.image))
        if group:
            out += self._finish(group, due)
        return out

    def _finish(self, group: list[Window], due: list[tuple[Fraction, np.ndarray]]) -> list[Features]:
        for chunk in _chunks(due, self.config.frame_batch):
            vectors = self.model.images([image for _, image in chunk])
            self._vectors.update(zip((t for t, _ in chunk), vectors))
            self.embedded_frames += len(chunk)
        out = []
        for w in group:
            self._seen.evict_before(w.start)
            self._vectors = {t: v for t, v in self._vectors.items() if t >= w.start}
            out.append(self._report(w))
        return out

    def _report(self, window: Window) -> Features:
        rows = [(f.time, self._vectors[f.time]) for f in window.frames if f.time in self._vectors]
        if not rows:
            return self.empty(frames=[])
        vectors = np.stack([v for _, v in rows])
        embeddings = {"image": _unit_mean(vectors)}
        kept = rows[: self.config.max_frames]
        for i, (_, vector) in enumerate(kept):
            embeddings[f"frame.{i}"] = vector
        summary: dict[str, Any] = {"frames": [round(to_float(t), 6) for t, _ in kept]}
        labels: tuple[tuple[str, float], ...] = ()
        if self._label_vectors is not None:
            probs = self.label_probabilities(embeddings["image"][None, :])[0]
            order = np.argsort(-probs, kind="stable")[: self.config.top_labels]
            labels = tuple((self.config.labels[i], round(float(probs[i]), 4)) for i in order)
            summary["label"], summary["score"] = labels[0]
        return Features(self.name, self.modality, summary=summary, embeddings=embeddings, labels=labels)

    def label_probabilities(self, images: np.ndarray) -> np.ndarray:
        """``(n, labels)`` softmax over the prompt list of ``logit_scale * cosine``."""
        logits = self.model.logit_scale * images @ self._label_vectors.T  # type: ignore[union-attr]
        logits -= logits.max(axis=1, keepdims=True)
        e = np.exp(logits)
        return e / e.sum(axis=1, keepdims=True)
