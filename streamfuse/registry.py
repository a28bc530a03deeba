"""The one list of stages, and everything derived from it.

Encoders and fusers declare themselves (their class attribute ``spec``, a
:class:`~streamfuse.spec.StageSpec`); this module keeps them in order and derives from those
declarations, with no second list anywhere:

- the config sections under ``encoders.`` and ``fusion.`` and their errors (:func:`sections`),
- the event type list and the JSON Schema events validate against (:func:`event_kinds`),
- the ``streamfuse models`` listing (:func:`model_rows`),
- the order of the local runtime's lanes and the Ray runtime's actor pools (:func:`enabled`).

Built-in stages are listed below by import path and imported on first use (their modules import
no model library at import time); other packages add stages through the ``streamfuse.stages``
entry-point group, and code (a test, a notebook) with :func:`register`::

    streamfuse.register(MyEncoder)          # the one registration line
"""

from __future__ import annotations

import importlib
import threading
from importlib.metadata import entry_points
from typing import Any, Literal

from .errors import ConfigError, ModelLoadError
from .spec import EventKind, StageSpec

Group = Literal["encoders", "fusers"]

#: built-in encoders, in the order their lanes run (the registration line of each)
BUILTIN_ENCODERS = (
    "streamfuse.encode.video.motion:MotionEncoder",
    "streamfuse.encode.video.faces:FaceEncoder",
    "streamfuse.encode.video.objects:ObjectsEncoder",
    "streamfuse.encode.video.people:PeopleEncoder",
    "streamfuse.encode.audio.vad:VadEncoder",
    "streamfuse.encode.audio.loudness:LoudnessEncoder",
    "streamfuse.encode.audio.tags:SoundTagsEncoder",
    "streamfuse.encode.text.asr:AsrEncoder",
    "streamfuse.encode.text.embed:TextEncoder",
    "streamfuse.encode.foundation.image_text:ImageTextEncoder",
    "streamfuse.encode.foundation.caption:CaptionEncoder",
    "streamfuse.encode.foundation.audio_text:AudioTextEncoder",
    "streamfuse.encode.foundation.audio_tags:AudioTagsEncoder",
    "streamfuse.encode.foundation.generate:Generator",
)
#: built-in fusers
BUILTIN_FUSERS = (
    "streamfuse.fuse.rules:RuleFuser",
    "streamfuse.fuse.learned.fuser:LearnedFuser",
)
_ENTRY_POINTS = "streamfuse.stages"

_lock = threading.RLock()
_stages: dict[Group, dict[str, type]] = {"encoders": {}, "fusers": {}}
_loaded = False
_version = 0


def _import(path: str) -> type:
    module, _, name = path.partition(":")
    try:
        return getattr(importlib.import_module(module), name)
    except ImportError as exc:
        raise ModelLoadError(f"stage {path} cannot be imported ({exc}); reinstall streamfuse with its "
                             "dependencies") from None


def _group_of(cls: type) -> Group:
    from .fuse.base import Fuser  # the fuser base; everything else with a spec is an encoder
    return "fusers" if isinstance(cls, type) and issubclass(cls, Fuser) else "encoders"


def _load_builtins() -> None:
    global _loaded
    with _lock:
        if _loaded:
            return
        _loaded = True  # first: a stage module that imports the registry must not recurse
        for path in BUILTIN_ENCODERS:
            _add(_import(path), "encoders")
        for path in BUILTIN_FUSERS:
            _add(_import(path), "fusers")
        for ep in entry_points(group=_ENTRY_POINTS):
            cls = ep.load()
            _add(cls, _group_of(cls))


def _add(cls: type, group: Group) -> None:
    global _version
    spec = getattr(cls, "spec", None)
    if not isinstance(spec, StageSpec):
        raise TypeError(f"{cls!r} declares no stage spec: give it a class attribute spec = StageSpec(...)")
    other = _stages[group].get(spec.key)
    if other is not None and other is not cls:
        raise ValueError(f"{group} key {spec.key!r} is taken by {other.__module__}.{other.__qualname__}")
    _stages[group][spec.key] = cls
    _version += 1


def register(cls: type) -> type:
    """Add an encoder or fuser class (with its ``spec``) after the built-in ones; usable as a decorator."""
    _load_builtins()
    with _lock:
        _add(cls, _group_of(cls))
    return cls


def unregister(key: str, group: Group = "encoders") -> None:
    """Remove a registered stage (tests clean up with this)."""
    global _version
    _load_builtins()
    with _lock:
        _stages[group].pop(key, None)
        _version += 1


def added() -> dict[str, list[type]]:
    """The stages registered beyond the built-in ones, per group (a Ray worker adopts them, so its
    registry is the driver's)."""
    _load_builtins()
    builtin = set(BUILTIN_ENCODERS) | set(BUILTIN_FUSERS)
    return {group: [cls for cls in classes.values() if f"{cls.__module__}:{cls.__qualname__}" not in builtin]
            for group, classes in _stages.items()}


def adopt(extra: dict[str, list[type]]) -> None:
    """Register what :func:`added` listed in another process (stages already here are kept)."""
    _load_builtins()
    with _lock:
        for group, classes in extra.items():
            for cls in classes:
                if _stages[group].get(cls.spec.key) is not cls:  # type: ignore[index]
                    _stages[group][cls.spec.key] = cls  # type: ignore[index]
                    _bump()


def _bump() -> None:
    global _version
    _version += 1


def version() -> int:
    """Changes whenever a stage is added or removed (derived tables cache on it)."""
    _load_builtins()
    return _version


def stages(group: Group = "encoders") -> list[type]:
    """The registered stage classes of ``group``, in order."""
    _load_builtins()
    with _lock:
        return list(_stages[group].values())


def stage(key: str, group: Group = "encoders") -> type:
    _load_builtins()
    try:
        return _stages[group][key]
    except KeyError:
        raise ConfigError(f"no {group[:-1]} named {key!r}; known: {', '.join(_stages[group])}") from None


def sections(group: Group = "encoders") -> dict[str, type]:
    """``key -> config section type`` of every registered stage of ``group`` that has one."""
    return {cls.spec.key: cls.spec.config for cls in stages(group)}


def enabled(encoders_config: Any) -> list[tuple[type, Any]]:
    """``(class, section)`` of every enabled per-window encoder, in lane order."""
    if not encoders_config.enabled:
        return []
    out = []
    for cls in stages("encoders"):
        section = encoders_config.section(cls.spec.key)
        if cls.spec.per_window and section.enabled:
            out.append((cls, section))
    return out


def needs_thumbnails(encoders_config: Any) -> bool:
    """Whether an enabled encoder reads every decoded frame's thumbnail (``window.thumbs``)."""
    return any(cls.spec.thumbnails for cls, _ in enabled(encoders_config))


def build_encoders(encoders_config: Any) -> list[Any]:
    """One instance of every enabled per-window encoder, in lane order."""
    return [cls(section) for cls, section in enabled(encoders_config)]


# -- event kinds ------------------------------------------------------------------------------------


_kinds_cache: tuple[int, dict[str, list[EventKind]]] | None = None


def event_kinds() -> dict[str, list[EventKind]]:
    """Every event kind, with each declaration of it (stages in order, then the runtimes' own)."""
    global _kinds_cache
    current = version()
    if _kinds_cache is not None and _kinds_cache[0] == current:
        return _kinds_cache[1]
    _kinds_cache = (current, _collect_kinds())
    return _kinds_cache[1]


def _collect_kinds() -> dict[str, list[EventKind]]:
    from .events.kinds import SYSTEM_KINDS

    out: dict[str, list[EventKind]] = {}
    for group in ("encoders", "fusers"):
        for cls in stages(group):  # type: ignore[arg-type]
            for kind in cls.spec.kinds:
                out.setdefault(kind.name, []).append(kind)
    for kind in SYSTEM_KINDS:
        out.setdefault(kind.name, []).append(kind)
    return out


_merged: tuple[int, dict[str, EventKind]] = (-1, {})


def kind(name: str) -> EventKind:
    """One kind, its declarations merged: durative if any says so, instant if any says so
    (a :class:`KeyError` when no stage declares it)."""
    global _merged
    if _merged[0] != version():
        _merged = (version(), {})
    if name not in _merged[1]:
        _merged[1][name] = _merge(event_kinds()[name])
    return _merged[1][name]


def _merge(declared: list[EventKind]) -> EventKind:
    name = declared[0].name
    durative = any(k.durative for k in declared)
    instant = any(k.instant for k in declared)
    first = declared[0]
    modalities = tuple(dict.fromkeys(m for k in declared for m in k.modalities))
    lifecycle = "both" if durative and instant else ("durative" if durative else "instant")
    return EventKind(name, lifecycle, modalities, first.data, first.gap, first.describe, first.doc)


# -- models -----------------------------------------------------------------------------------------


def model_rows(config: Any) -> list[dict[str, Any]]:
    """What ``streamfuse models`` prints: one row per model of every registered stage (no weights
    loaded), each with ``enabled`` from ``config``."""
    rows = []
    for group in ("encoders", "fusers"):
        for cls in stages(group):  # type: ignore[arg-type]
            spec = cls.spec
            if group == "encoders":
                section = config.encoders.section(spec.key)
                on = bool(section.enabled) and config.encoders.enabled
            else:
                section = config.fusion.sections.get(spec.key, config.fusion)
                on = spec.key in config.fusion.fusers
            infos = spec.models(section) if spec.models else []
            for info in infos:
                rows.append({**info.as_dict(), "enabled": on})
    return rows


