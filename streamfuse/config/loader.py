"""The one place configuration is read: typed defaults, then YAML files, then environment
variables (``STREAMFUSE__SECTION__KEY=value``), then ``--set key=value`` overrides.

Two documented environment variables are read here too, outside :class:`PipelineConfig`:
``$STREAMFUSE_TOKEN`` (the live server's bearer token; a secret, so never part of a configuration
that is printed or handed to workers) by :func:`env_token`, and ``$STREAMFUSE_BUFFER_DIR`` /
``$XDG_STATE_HOME`` (where sinks keep their buffers) by :func:`sink_buffer_root`."""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml

from ..errors import ConfigError
from .base import StageSections
from .models import expand_models
from .pipeline import PipelineConfig

T = TypeVar("T")
ENV_PREFIX = "STREAMFUSE__"
#: the live server's bearer token (``watch --serve``, ``subscribe``, :class:`~streamfuse.serve.server.EventServer`)
TOKEN_ENV = "STREAMFUSE_TOKEN"
#: where broker and webhook sinks keep their durable buffers (one folder per destination inside it)
BUFFER_DIR_ENV = "STREAMFUSE_BUFFER_DIR"


def build(cls: type[T], data: Mapping[str, Any], path: str = "", raw: bool = False) -> T:
    """Construct the dataclass ``cls`` from nested ``data``; unknown keys are errors. A section whose
    keys come from the stage registry (:class:`~streamfuse.config.base.StageSections`) builds itself
    (``raw``: this call is its own, for its own keys)."""
    if not raw and hasattr(cls, "from_mapping"):
        return cls.from_mapping(data, path, build)  # type: ignore[attr-defined]
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path or 'config'}: expected a mapping of keys, got {data!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        where = f"{path}.{key}" if path else str(key)
        if key not in names:
            known = ", ".join(sorted(names))
            raise ConfigError(f"unknown config key {where!r}; known keys here: {known}")
        hint = hints[key]
        kwargs[key] = build(hint, value, where) if dataclasses.is_dataclass(hint) else value
    try:
        return cls(**kwargs)
    except ConfigError as exc:
        raise ConfigError(f"{path + '.' if path else ''}{exc}") from None


def as_dict(config: Any) -> Any:
    """A config as plain nested dicts keyed as config files spell them (for printing and summaries)."""
    if isinstance(config, StageSections):
        return {key: as_dict(value) for key, value in config.items()}
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return {f.name: as_dict(getattr(config, f.name)) for f in dataclasses.fields(config)}
    if isinstance(config, (list, tuple)):
        return [as_dict(v) for v in config]
    if isinstance(config, Mapping):
        return {str(k): as_dict(v) for k, v in config.items()}
    return config


def _merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(out[key], value)
        else:
            out[key] = value
    return out


def _dotted(key: str, value: Any) -> dict[str, Any]:
    parts = [p for p in key.strip().split(".")]
    if not all(parts):
        raise ConfigError(f"bad config key {key!r}; use dotted names like decode.fps")
    node: dict[str, Any] = {parts[-1]: value}
    for part in reversed(parts[:-1]):
        node = {part: node}
    return node


def parse_set(item: str) -> dict[str, Any]:
    """``"decode.fps=5"`` -> ``{"decode": {"fps": 5}}``; the value is read as YAML."""
    key, sep, raw = item.partition("=")
    if not sep:
        raise ConfigError(f"--set {item!r}: expected key=value, e.g. --set window.length=3")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    return _dotted(key, value)


def read_yaml(path: str | os.PathLike[str]) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        where = f" (line {line + 1})" if line is not None else ""
        raise ConfigError(f"config file {str(p)!r} is not valid YAML{where}") from None
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {str(p)!r} must hold a mapping of keys at the top")
    return dict(data)


def from_env(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    out: dict[str, Any] = {}
    for name, raw in environ.items():
        if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
            key = name[len(ENV_PREFIX):].lower().replace("__", ".")
            out = _merge(out, parse_set(f"{key}={raw}"))
    return out


def env_token(environ: Mapping[str, str] | None = None) -> str | None:
    """The bearer token in ``$STREAMFUSE_TOKEN``; None when it is unset or empty."""
    environ = os.environ if environ is None else environ
    return environ.get(TOKEN_ENV) or None


def sink_buffer_root(environ: Mapping[str, str] | None = None) -> Path:
    """The folder that holds sink buffers unless a sink is told otherwise: ``$STREAMFUSE_BUFFER_DIR``,
    else ``$XDG_STATE_HOME/streamfuse/buffers``, else ``~/.local/state/streamfuse/buffers``."""
    environ = os.environ if environ is None else environ
    root = environ.get(BUFFER_DIR_ENV)
    if root:
        return Path(root)
    state = environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "streamfuse" / "buffers"


def load_config(files: Iterable[str | os.PathLike[str]] = (), sets: Iterable[str] = (),
                environ: Mapping[str, str] | None = None, **overrides: Any) -> PipelineConfig:
    """Defaults <- YAML files (in order) <- environment <- ``--set`` items <- keyword overrides."""
    data: dict[str, Any] = {}
    for f in files:
        data = _merge(data, read_yaml(f))
    data = _merge(data, from_env(environ))
    for item in sets:
        data = _merge(data, parse_set(item))
    data = _merge(data, overrides)
    return build(PipelineConfig, expand_models(data))
