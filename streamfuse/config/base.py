"""Checked configuration dataclasses.

Every component's configuration is a dataclass deriving from :class:`Section`. Construction checks
``Literal`` choices (the allowed values are in the error) and numeric ranges declared with
:func:`bounded`; a bad value raises :class:`~streamfuse.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import math
import re
import typing
from typing import Any, Literal, get_args, get_origin

from ..errors import ConfigError


def bounded(default: Any, lo: float | None = None, hi: float | None = None, *, lo_open: bool = False,
            doc: str = "") -> Any:
    """A dataclass field with a numeric range ``[lo, hi]`` (``(lo, hi]`` when ``lo_open``)."""
    return dataclasses.field(default=default, metadata={"lo": lo, "hi": hi, "lo_open": lo_open, "doc": doc})


#: a number in exponent notation without a dot ("1e9", "-2E-3"): YAML 1.1 reads it as text
_EXPONENT = re.compile(r"[-+]?\d+(?:\.\d*)?[eE][-+]?\d+")


def _number_text(value: Any) -> Any:
    """``value``, or the number it spells when it is text in exponent notation."""
    if isinstance(value, str) and _EXPONENT.fullmatch(value.strip()):
        return float(value)
    return value


def _check_type(key: str, value: Any, hint: Any) -> Any:
    origin = get_origin(hint)
    if origin is Literal:
        allowed = get_args(hint)
        if value not in allowed:
            raise ConfigError(f"{key}: {value!r} is not one of {', '.join(map(repr, allowed))}")
        return value
    if origin in (typing.Union, getattr(__import__("types"), "UnionType", None)):
        args = get_args(hint)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _check_type(key, value, arg)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: bad value {value!r}")
    if origin in (list, tuple):
        # a bare string is refused, not taken as a one-item list: "a, b" would silently become one item
        if isinstance(value, str):
            raise ConfigError(f"{key}: expected a list, got the text {value!r}; write a list, e.g. [{value}]")
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        (item,) = get_args(hint)[:1] or (Any,)
        items = [_check_type(f"{key}[{i}]", v, item) for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict) or not all(isinstance(v, (str, int, float, bool)) for v in value.values()):
            raise ConfigError(f"{key}: expected a mapping of names to values, e.g. {{name: value}}, got {value!r}")
        return {str(k): v for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false, got {value!r}")
        return value
    if hint is int:
        value = _number_text(value)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key}: expected an integer, got {value!r}")
        return value
    if hint is float:
        value = _number_text(value)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{key}: expected a number, got {value!r}")
        if not math.isfinite(value):
            raise ConfigError(f"{key}: expected a finite number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected text, got {value!r}")
        return value
    return value


class Section:
    """Mixin for config dataclasses: checks types, choices and ranges after construction."""

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            hint = hints[f.name]
            key = f.name
            if dataclasses.is_dataclass(hint):
                continue
            value = _check_type(key, value, hint)
            object.__setattr__(self, f.name, value)
            lo, hi = f.metadata.get("lo"), f.metadata.get("hi")
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                if lo is not None and (value < lo or (f.metadata.get("lo_open") and value == lo)):
                    op = ">" if f.metadata.get("lo_open") else ">="
                    raise ConfigError(f"{key}: {value:g} is out of range, must be {op} {lo:g}")
                if hi is not None and value > hi:
                    raise ConfigError(f"{key}: {value:g} is out of range, must be <= {hi:g}")
        self.check()

    def check(self) -> None:
        """Cross-field checks; override where needed."""


class StageSections(Section):
    """Mixin for a config section whose sub-sections are the registered stages' (``encoders``,
    ``fusion``): a stage's section is ``config.encoders.<key>``, typed by its spec, checked like any
    other; an unknown key names the known ones. The subclass declares its own fields (``enabled``...)
    and a ``sections`` mapping field, and names its registry group in ``_group``.
    """

    _group = "encoders"

    def __post_init__(self) -> None:
        from .. import registry

        given = dict(getattr(self, "sections", None) or {})
        types = registry.sections(self._group)  # type: ignore[arg-type]
        filled = {key: given[key] if key in given else cls() for key, cls in types.items() if cls is not None}
        unknown = set(given) - set(filled)
        if unknown:
            raise ConfigError(f"unknown config key {sorted(unknown)[0]!r}; known keys here: "
                              f"{', '.join(sorted(self.own_keys() + list(filled)))}")
        object.__setattr__(self, "sections", filled)
        super().__post_init__()

    @classmethod
    def own_keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls) if f.name != "sections"]  # type: ignore[arg-type]

    def section(self, key: str) -> Any:
        """The section of the stage ``key`` (a :class:`~streamfuse.errors.ConfigError` if none)."""
        try:
            return self.sections[key]  # type: ignore[attr-defined]
        except KeyError:
            raise ConfigError(f"no config section {key!r}; known: {', '.join(self.sections)}") from None  # type: ignore[attr-defined]

    def __getattr__(self, name: str) -> Any:
        # only reached for names that are not fields: a stage's section (config.encoders.faces)
        if name.startswith("_") or name == "sections":
            raise AttributeError(name)
        sections = self.__dict__.get("sections") or {}
        if name in sections:
            return sections[name]
        raise AttributeError(f"{type(self).__name__} has no key {name!r}")

    def items(self) -> list[tuple[str, Any]]:
        """``(key, value)`` pairs as config files spell them: own keys, then each stage's section."""
        return [(k, getattr(self, k)) for k in self.own_keys()] + list(self.sections.items())  # type: ignore[attr-defined]

    @classmethod
    def from_mapping(cls, data: Any, path: str, build: Any) -> Any:
        """Build from nested config data: own keys as usual, stage keys through their section types."""
        from .. import registry

        if not isinstance(data, dict):
            raise ConfigError(f"{path}: expected a mapping of keys, got {data!r}")
        own = set(cls.own_keys())
        types = {k: t for k, t in registry.sections(cls._group).items() if t is not None}  # type: ignore[arg-type]
        kwargs: dict[str, Any] = {}
        sections: dict[str, Any] = {}
        for key, value in data.items():
            where = f"{path}.{key}"
            if key in own:
                kwargs[key] = value
            elif key in types:
                sections[key] = build(types[key], value, where)
            else:
                raise ConfigError(f"unknown config key {where!r}; known keys here: "
                                  f"{', '.join(sorted(own | set(types)))}")
        return build(cls, {**kwargs, "sections": sections}, path, raw=True)
