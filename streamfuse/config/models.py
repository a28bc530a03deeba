"""``models.<role>``: the model of each role, one key each (``--set models.image_text=./my-clip``).

A role is any registered encoder whose config section has a ``model`` field (``image_text``,
``caption``, ``audio_text``, ``audio_tags``, ``text``, ``asr``, ``generate``...), derived from the
stage registry, never listed here: ``models.<role>=X`` is the same as
``encoders.<role>.model=X``. Stages that are off until given a model (image_text, caption, ...)
turn on when it is set."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError


def model_roles() -> list[str]:
    """The roles a model can be configured for: encoders whose section has a ``model`` field."""
    from .. import registry

    out = []
    for key, section in registry.sections("encoders").items():
        if section is not None and any(f.name == "model" for f in dataclasses.fields(section)):
            out.append(key)
    return out


def expand_models(data: Mapping[str, Any]) -> dict[str, Any]:
    """``data`` with its ``models`` mapping moved into ``encoders.<role>.model``."""
    data = dict(data)
    models = data.pop("models", None)
    if models is None:
        return data
    roles = model_roles()
    if not isinstance(models, Mapping):
        raise ConfigError(f"models: expected a mapping of role to model, e.g. models.image_text="
                          f"openai/clip-vit-base-patch32; roles: {', '.join(roles)}")
    encoders = dict(data.get("encoders") or {})
    for role, name in models.items():
        if role not in roles:
            raise ConfigError(f"unknown config key 'models.{role}'; known roles: {', '.join(roles)}")
        if name is not None and not isinstance(name, str):
            raise ConfigError(f"models.{role}: expected a Hugging Face model id or a folder, got {name!r}")
        section = dict(encoders.get(role) or {})
        section["model"] = name or None
        encoders[role] = section
    data["encoders"] = encoders
    return data
