"""Captions of key frames with an image-to-text model (``models.caption``): BLIP, GIT, Florence-2
or another model that ``AutoModelForImageTextToText`` (or, in older transformers,
``AutoModelForVision2Seq``) loads with its ``AutoProcessor``, run under ``torch.inference_mode``
with greedy decoding (the same frame always gets the same caption).

A window's key frame is its first frame at or after the middle of the span it owns
(``[start, own_end)``). It is captioned when a caption is due: with ``when: rate`` at most
``rate`` captions per second (picked by timestamp); with ``when: change`` when the picture changed
since the last caption (mean absolute difference of 32 x 32 grey thumbnails, 0-1, at least
``change``), and for the first window. The due key frames of all the windows of one batch call are
captioned together, ``frame_batch`` at a time.

Summary: ``caption`` (the latest caption, carried to later windows until the next), ``caption_time``
(seconds: the frame it describes) and ``fresh`` (captioned in this window); the caption joins the
window's description (``caption: '...'``). Captioners are slow on a CPU (published figures: about
1-3 s per caption for Florence-2 base), hence the low default rate. A tiny random model (as in the
tests) proves the plumbing, not the words.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Literal, Sequence

import cv2
import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...timebase import to_float
from ..base import BaseEncoder, Features
from ..streams import StreamTracker
from ..video._frames import RateGate
from . import _hf


@dataclass(frozen=True)
class CaptionConfig(_hf.RoleSection):
    """Key-frame captions (``models.caption`` sets ``model``; on when a model is set)."""

    role = "caption"

    batch_size: int = bounded(4, 1, 4096, doc="windows one call may take when the lane falls behind (their due "
                                              "key frames go through the model together)")
    when: Literal["rate", "change"] = "rate"  # caption at a rate, or when the picture changed
    rate: float = bounded(0.2, 0.01, 30.0, doc="with when: rate, captions per second at most")
    change: float = bounded(0.12, 0.0, 1.0, doc="with when: change, mean absolute grey difference (0-1) from the "
                                                "last captioned frame that counts as a new scene")
    prompt: str | None = None  # text the caption starts from or the task token (Florence-2: <CAPTION>)
    max_tokens: int = bounded(30, 1, 512, doc="longest caption, in tokens")
    frame_batch: int = bounded(8, 1, 256, doc="key frames per pass of the captioner")


class Captioner:
    """A loaded image-to-text model: ``captions(list of HxWx3 uint8) -> list of str``."""

    def __init__(self, path: str, device: str, prompt: str | None, max_tokens: int) -> None:
        import torch
        import transformers
        from transformers import AutoProcessor

        self._torch = torch
        self.device = device
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.processor = AutoProcessor.from_pretrained(path, local_files_only=True)
        auto = getattr(transformers, "AutoModelForImageTextToText", None) or transformers.AutoModelForVision2Seq
        try:
            model = auto.from_pretrained(path, local_files_only=True)
        except ValueError:  # an image-to-text model registered only for Vision2Seq (older transformers)
            model = transformers.AutoModelForVision2Seq.from_pretrained(path, local_files_only=True)
        self.model = model.eval().to(device)

    def captions(self, images: Sequence[np.ndarray]) -> list[str]:
        kwargs: dict[str, Any] = {"images": list(images), "return_tensors": "pt"}
        if self.prompt:
            kwargs["text"] = [self.prompt] * len(images)
        with self._torch.inference_mode():
            inputs = self.processor(**kwargs).to(self.device)
            out = self.model.generate(**inputs, max_new_tokens=self.max_tokens, do_sample=False, num_beams=1)
        texts = self.processor.batch_decode(out, skip_special_tokens=True)
        if self.prompt:  # decoder-only captioners repeat the prompt
            texts = [t[len(self.prompt):] if t.startswith(self.prompt) else t for t in texts]
        return [" ".join(t.split()) for t in texts]


def load_captioner(config: CaptionConfig, device: str) -> Captioner:
    _hf.set_threads(config.threads)
    return _hf.load("caption", config.model, device,
                    lambda path: Captioner(path, device, config.prompt, config.max_tokens))


def _thumb(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.resize(grey, (32, 32), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


class CaptionEncoder(BaseEncoder):
    """A caption of each window's key frame when one is due (see the module doc)."""

    spec = _hf.role_spec("caption", CaptionConfig, "video", "key-frame captions (models.caption)")

    def __init__(self, config: CaptionConfig | None = None) -> None:
        self.config = c = config or CaptionConfig()
        self.device = _hf.role_device(self, c)
        self.model = load_captioner(c, self.device)
        self._streams = StreamTracker()
        self.captioned = 0
        self._reset()

    def _reset(self) -> None:
        self._gate = RateGate(self.config.rate)
        self._last_thumb: np.ndarray | None = None
        self._last: tuple[str, Fraction] | None = None

    def _key_frame(self, window: Window):
        middle = window.start + (window.own_end - window.start) / 2
        owned = [f for f in window.frames if window.start <= f.time < window.own_end]
        return next((f for f in owned if f.time >= middle), owned[-1] if owned else None)

    def _due(self, frame) -> bool:
        if self.config.when == "rate":
            return self._gate.admit(frame.time)
        thumb = _thumb(frame.image)
        if self._last_thumb is not None and float(np.abs(thumb - self._last_thumb).mean()) < self.config.change:
            return False
        self._last_thumb = thumb
        return True

    def __call__(self, window: Window) -> Features:
        return self.batch([window])[0]

    def batch(self, windows: list[Window]) -> list[Features]:
        """The due key frames of all ``windows`` captioned together (equal to one by one)."""
        out: list[Features] = []
        group: list[tuple[Window, Any]] = []
        for w in windows:
            if self._streams.is_new(w):
                out += self._finish(group)
                group = []
                self._reset()
            frame = self._key_frame(w)
            group.append((w, frame if frame is not None and self._due(frame) else None))
        return out + self._finish(group)

    def _finish(self, group: list[tuple[Window, Any]]) -> list[Features]:
        due = [frame for _, frame in group if frame is not None]
        captions: dict[Fraction, str] = {}
        for i in range(0, len(due), self.config.frame_batch):
            chunk = due[i:i + self.config.frame_batch]
            captions.update(zip((f.time for f in chunk), self.model.captions([f.image for f in chunk])))
            self.captioned += len(chunk)
        out = []
        for w, frame in group:
            fresh = frame is not None
            if fresh:
                self._last = (captions[frame.time], frame.time)
            if self._last is None:
                out.append(self.empty())
                continue
            text, time = self._last
            out.append(Features(self.name, self.modality,
                                summary={"caption": text, "caption_time": round(to_float(time), 6), "fresh": fresh}))
        return out
