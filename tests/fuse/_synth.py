"""Synthetic labelled windows for the learned-fusion tests: a video summary token and a timed audio
sequence whose classes are known by construction."""

from __future__ import annotations

import numpy as np

from streamfuse.fuse.learned.config import ModelConfig, StreamSpec
from streamfuse.fuse.learned.inputs import Tokens

STREAMS = [StreamSpec(name="cam.summary", modality="video", dim=3, keys=["a", "b", "c"]),
           StreamSpec(name="mic.scores", modality="audio", dim=4)]
LEVEL = np.array([-1.0], np.float32)


def config(kind: str = "hybrid", classes=("a", "b", "c", "d"), **kw) -> ModelConfig:
    kw = {"dim": 16, "heads": 2, "layers": 2, "grid": 4, **kw}
    return ModelConfig(kind=kind, streams=STREAMS, classes=list(classes), **kw)


def both_needed(n: int, seed: int):
    """class = 2 * audio bit + video bit: each modality alone knows one bit (at best 50 %). The
    audio bit is *when* a feature rises (first or second half of the window)."""
    rng = np.random.default_rng(seed)
    examples, labels = [], []
    for _ in range(n):
        v, a = int(rng.integers(2)), int(rng.integers(2))
        cam = rng.normal(0, 0.3, 3).astype(np.float32)
        cam[0] += 2 * v - 1
        steps = int(rng.integers(3, 8))
        times = np.sort(rng.uniform(0, 1, steps)).astype(np.float32)
        mic = rng.normal(0, 0.3, (steps, 4)).astype(np.float32)
        mic[:, 1] += np.where((times < 0.5) == bool(a), 1.5, 0.0)
        examples.append({"cam.summary": Tokens(cam[None], LEVEL), "mic.scores": Tokens(mic, times)})
        labels.append(2 * a + v)
    return examples, labels


def imbalanced(n: int, seed: int):
    """Two classes; video tells them apart at once (a large linear margin), audio only through a
    non-linear trace (whether two features agree in sign), slower to learn: joint training solves
    the task with video and leaves the audio branch under-trained."""
    rng = np.random.default_rng(seed)
    examples, labels = [], []
    for _ in range(n):
        y = int(rng.integers(2))
        cam = rng.normal(0, 0.05, 3).astype(np.float32)
        cam[0] += 3 * (2 * y - 1)
        steps = 4
        mic = rng.normal(0, 1.0, (steps, 4)).astype(np.float32)
        mic[:, 1] = np.sign(mic[:, 0]) * np.abs(mic[:, 1]) * (2 * y - 1)
        times = np.linspace(0, 0.75, steps).astype(np.float32)
        examples.append({"cam.summary": Tokens(cam[None], LEVEL), "mic.scores": Tokens(mic, times)})
        labels.append(y)
    return examples, labels


def audio_only(examples):
    return [{k: v for k, v in e.items() if k != "cam.summary"} for e in examples]


def video_only(examples):
    return [{k: v for k, v in e.items() if k != "mic.scores"} for e in examples]
