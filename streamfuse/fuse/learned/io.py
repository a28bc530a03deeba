"""A saved fusion model: one folder with ``model.safetensors`` (the weights, temperature included)
and ``config.json`` (the architecture, classes and input streams, plus what produced the features:
the encoders and their settings, the window length). Written atomically (a half-written folder is
never left behind); a folder that is not a model gives a one-line
:class:`~streamfuse.errors.ModelLoadError` naming what is wrong.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from ...errors import ModelLoadError, StreamfuseError
from .config import ModelConfig
from .models import FusionModel, build_model

FORMAT = "streamfuse.fusion-model/1"
WEIGHTS = "model.safetensors"
CONFIG = "config.json"


def save_model(folder: str | os.PathLike, model: FusionModel, meta: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and ``meta``: JSON values) to ``folder``, replacing a model already there."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / WEIGHTS), metadata={"format": FORMAT})
        doc = {"format": FORMAT, "model": model.config.to_dict(), "temperature": float(model.temperature),
               "meta": meta or {}}
        (tmp / CONFIG).write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
        if folder.exists():
            if not (folder / CONFIG).exists() and any(folder.iterdir()):
                raise ModelLoadError(f"{folder} exists and is not a fusion model folder; choose another -o")
            shutil.rmtree(folder)
        os.replace(tmp, folder)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return folder


def read_config(folder: str | os.PathLike) -> tuple[ModelConfig, dict[str, Any]]:
    """``(model config, meta)`` of a saved model, without its weights."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ModelLoadError(f"fusion model {folder} is not a folder; train one with 'streamfuse train -o {folder}'")
    path = folder / CONFIG
    if not path.is_file():
        raise ModelLoadError(f"fusion model {folder} has no {CONFIG}; it is not a model saved by 'streamfuse train'")
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ModelLoadError(f"fusion model {path} is not valid JSON ({exc}); retrain the model") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        got = doc.get("format") if isinstance(doc, dict) else None
        raise ModelLoadError(f"fusion model {path}: format {got!r} is not {FORMAT!r}; retrain the model")
    try:
        config = ModelConfig.from_dict(doc.get("model"))
    except StreamfuseError as exc:
        raise ModelLoadError(f"fusion model {path}: {exc}") from None
    return config, dict(doc.get("meta") or {})


def load_model(folder: str | os.PathLike) -> tuple[FusionModel, dict[str, Any]]:
    """``(model in eval mode, meta)`` from a folder :func:`save_model` wrote."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder)
    config, meta = read_config(folder)
    path = folder / WEIGHTS
    if not path.is_file():
        raise ModelLoadError(f"fusion model {folder} has no {WEIGHTS}; retrain the model")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise ModelLoadError(f"fusion model weights {path} cannot be read ({exc}); retrain the model") from None
    model = build_model(config)
    expected = model.state_dict()
    for name, tensor in expected.items():
        if name not in state:
            raise ModelLoadError(f"fusion model {path} lacks the weight {name}; it does not match its {CONFIG}")
        if tuple(state[name].shape) != tuple(tensor.shape):
            raise ModelLoadError(f"fusion model {path}: weight {name} is {tuple(state[name].shape)}, "
                                 f"{CONFIG} implies {tuple(tensor.shape)}")
    extra = sorted(set(state) - set(expected))
    if extra:
        raise ModelLoadError(f"fusion model {path} has the unknown weight {extra[0]}; it does not match its {CONFIG}")
    model.load_state_dict(state)
    model.eval()
    return model, meta

