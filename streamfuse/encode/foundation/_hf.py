"""Finding and loading a configured Hugging Face model, offline, once per process.

A model name is a local folder (``./my-clip``, ``/models/clip``) or a Hugging Face model id
(``openai/clip-vit-base-patch32``) that must already be in the local Hugging Face cache: nothing
here downloads. :func:`locate` only looks at files (``streamfuse models`` uses it); :func:`load`
reads the weights with the Auto classes and puts the model on its device in eval mode. A missing
or unloadable model is a :class:`~streamfuse.errors.ModelLoadError` with one line naming the
model, the config key and what to do.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, ClassVar

from ...config.base import bounded
from ...errors import ConfigError, ModelLoadError
from ...spec import ModelInfo, Resources, StageSection, StageSpec, pick_device
from ..text.models import ModelLocation, _folder, _hub_cache, _looks_like_path, go_offline


def how(role: str) -> str:
    return f"point models.{role} at a local folder saved with save_pretrained"


def locate(role: str, name: str | None) -> ModelLocation:
    """Where the model of ``role`` named ``name`` is on this machine (no weights read)."""
    if not name:
        return ModelLocation(role, "-", "none", None, f"set models.{role} to a Hugging Face model id or a folder")
    if _looks_like_path(name):
        return _folder(role, name, ("config.json",) if role != "generate" else ("model_index.json",), how(role))
    return _hub_cache(role, name, name, None, how(role))


def info(role: str, name: str | None) -> list[ModelInfo]:
    """The ``streamfuse models`` row of a role (``not configured`` when no model is set)."""
    if not name:
        return [ModelInfo(role, "not configured", "-", True, kind="none",
                          how=f"set models.{role} to a Hugging Face model id or a folder")]
    return [locate(role, name).info()]


@dataclass(frozen=True)
class RoleSection(StageSection):
    """The config section of a model role's stage: ``models.<role>`` sets ``model``, and the stage is
    on exactly when a model is set (unless ``enabled`` says otherwise)."""

    role: ClassVar[str]
    enabled: bool | None = None  # unset: on exactly when a model is configured
    model: str | None = None  # a Hugging Face model id in the local cache, or a folder
    threads: int = bounded(1, 0, 256, doc="torch threads of the process (0: torch's choice; 1 by default, as the "
                                         "other lanes run beside it and torch threads spin on a busy machine)")

    def check(self) -> None:
        if self.enabled is None:
            object.__setattr__(self, "enabled", bool(self.model))
        if self.enabled and not self.model:
            raise ConfigError(f"enabled: true needs a model; set models.{self.role} to a Hugging Face model id or "
                              "a folder")


def role_spec(role: str, config: type, modality: str, doc: str, *, gpus: float = 0.25, **more: Any) -> StageSpec:
    """The spec of a model role's stage: its ``streamfuse models`` row from ``models.<role>``, a CPU,
    a share of a GPU (so Ray places it on a GPU node) and both devices."""
    return StageSpec(key=role, config=config, modality=modality, models=lambda section: info(role, section.model),
                     resources=Resources(cpus=1.0, gpus=gpus, devices=("cpu", "cuda")), doc=doc, **more)


def role_device(stage: Any, config: Any, missing: str | None = None) -> str:
    """The device a role's stage runs on; a stage built with no model set is a config error."""
    if not config.model:
        role = stage.spec.key
        raise ConfigError(missing or f"encoders.{role}: no model; set models.{role} to a Hugging Face model id or "
                                     "a folder")
    return pick_device(config, stage.spec, cuda_available)


def set_threads(threads: int) -> None:
    """``threads`` > 0: torch's intra-op threads for this process (0 leaves torch's choice)."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


_lock = threading.Lock()
_cache: dict[tuple, Any] = {}


def load(role: str, name: str | None, device: str, make: Callable[[str], Any]) -> Any:
    """``make(folder)`` run once per process per (model, device), its errors one line each.

    ``make`` loads with ``local_files_only=True`` (the hub is switched offline first)."""
    path = locate(role, name).require()
    go_offline()
    key = (role, path, device)
    with _lock:
        if key not in _cache:
            try:
                _cache[key] = make(path)
            except ModelLoadError:
                raise
            except Exception as exc:  # noqa: BLE001 - whatever the library raises, the model is unusable
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ModelLoadError(f"{role} model {name!r} at {path} failed to load ({first}); "
                                     f"{how(role)}") from exc
        return _cache[key]


def output_tensor(out: Any) -> Any:
    """``get_image_features`` / ``get_text_features`` return a tensor in transformers 4 and an
    output object (its ``pooler_output``) in transformers 5."""
    if hasattr(out, "pooler_output") and out.pooler_output is not None:
        return out.pooler_output
    if hasattr(out, "image_embeds"):
        return out.image_embeds
    return out
