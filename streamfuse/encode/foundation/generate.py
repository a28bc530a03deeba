"""Text-to-image with a diffusers pipeline (``models.generate``): ``streamfuse generate``.

Any text-to-image pipeline ``diffusers.AutoPipelineForText2Image`` loads (SD-Turbo, a small Stable
Diffusion, ...) from a local folder (saved with ``save_pretrained``) or the local Hugging Face
cache. Deterministic for a seed: the initial noise comes from a CPU ``torch.Generator`` seeded
with it, so the same seed starts from the same noise on any device (the pictures then agree as far
as that device's arithmetic does). Not a window stage (no lane): it is configured here, listed by ``streamfuse models``
and used by the command. A tiny random pipeline (as in the tests) proves the plumbing, not pictures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ...config.base import bounded
from ...errors import ConfigError
from ...spec import StageSection
from ..base import BaseEncoder
from . import _hf


@dataclass(frozen=True)
class GenerateConfig(StageSection):
    """Text-to-image (``models.generate`` sets ``model``)."""

    model: str | None = None  # a diffusers text-to-image pipeline: Hugging Face id in the local cache, or a folder
    steps: int = bounded(4, 1, 1000, doc="denoising steps (SD-Turbo: 1-4; Stable Diffusion: 20-50)")
    guidance: float = bounded(0.0, 0.0, 50.0, doc="classifier-free guidance scale (0 for SD-Turbo)")
    size: str = "512x512"  # WIDTHxHEIGHT, multiples of 8
    seed: int = bounded(0, 0, 2**32 - 1, doc="seed of the initial noise (same seed, same picture)")
    threads: int = bounded(0, 0, 256, doc="torch threads of the process (0: torch's choice)")

    def check(self) -> None:
        parse_size(self.size, "size")


def parse_size(text: str, key: str = "--size") -> tuple[int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", str(text))
    if not m or int(m.group(1)) % 8 or int(m.group(2)) % 8 or not (8 <= int(m.group(1)) <= 4096
                                                                     and 8 <= int(m.group(2)) <= 4096):
        raise ConfigError(f"{key}: {text!r} is not WIDTHxHEIGHT in multiples of 8 (8-4096), e.g. 512x512")
    return int(m.group(1)), int(m.group(2))


class _Pipeline:
    def __init__(self, path: str, device: str) -> None:
        from diffusers import AutoPipelineForText2Image

        self.device = device
        self.pipe = AutoPipelineForText2Image.from_pretrained(path, local_files_only=True).to(device)
        self.pipe.set_progress_bar_config(disable=True)


class Generator(BaseEncoder):
    """``generate(text) -> HxWx3 uint8`` with the configured pipeline (see the module doc)."""

    spec = _hf.role_spec("generate", GenerateConfig, "video", "text-to-image (models.generate; streamfuse generate)",
                         gpus=1.0, per_window=False)

    def __init__(self, config: GenerateConfig | None = None) -> None:
        self.config = c = config or GenerateConfig()
        self.device = _hf.role_device(self, c, "no text-to-image model: set models.generate (or --model) to a "
                                               "diffusers pipeline folder or a Hugging Face id in the local cache")
        _hf.set_threads(c.threads)
        self._pipe = _hf.load("generate", c.model, self.device, lambda path: _Pipeline(path, self.device))

    def generate(self, text: str, *, steps: int | None = None, seed: int | None = None,
                 size: str | None = None) -> np.ndarray:
        import torch

        c = self.config
        width, height = parse_size(size or c.size)
        generator = torch.Generator("cpu").manual_seed(c.seed if seed is None else seed)
        with torch.inference_mode():
            out = self._pipe.pipe(text, num_inference_steps=steps or c.steps, guidance_scale=c.guidance,
                                  width=width, height=height, generator=generator, output_type="np")
        image = np.asarray(out.images[0])
        return (np.clip(image, 0.0, 1.0) * 255 + 0.5).astype(np.uint8)


def write_png(image: np.ndarray, path: str | Path) -> Path:
    """``image`` (HxWx3 uint8 RGB) as a PNG at ``path``, written whole or not at all."""
    import os
    import tempfile

    import cv2

    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ConfigError(f"-o {str(path)!r}: the picture is written as PNG; name it *.png")
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    if not ok:
        raise ConfigError(f"could not encode the picture for {path}")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data.tobytes())
    os.replace(tmp, path)
    return path
