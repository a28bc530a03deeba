"""Which events a subscriber asked for: types, a confidence floor, a text query.

Shared by the live server (filters applied before sending) and the subscriber client (applied
to broker streams, where the broker cannot filter).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from ..errors import ConfigError
from ..events.cloudevents import event_types

#: the longest text query accepted (characters)
MAX_QUERY_CHARS = 256


def normalize_types(types: Iterable[str] | str | None) -> frozenset[str] | None:
    """``["speech", "streamfuse.scene.cut", "person,face"]`` -> full type names; ``None`` for all.
    Raises :class:`ConfigError` naming the allowed types for an unknown one."""
    if types is None:
        return None
    if isinstance(types, str):
        types = [types]
    out = set()
    for item in types:
        for name in str(item).split(","):
            name = name.strip().removeprefix("streamfuse.")
            if not name:
                continue
            if name not in event_types():
                raise ConfigError(f"unknown event type {name!r}; use one of: {', '.join(event_types())}")
            out.add(f"streamfuse.{name}")
    return frozenset(out) or None


def check_query(query: str | None) -> str | None:
    if query is None:
        return None
    query = " ".join(query.split())
    if len(query) > MAX_QUERY_CHARS:
        raise ConfigError(f"query too long ({len(query)} characters); at most {MAX_QUERY_CHARS}")
    return query or None


def check_confidence(value: float | str | None) -> float | None:
    if value is None or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"min_confidence {value!r} is not a number in [0, 1]") from None
    if not 0.0 <= number <= 1.0:
        raise ConfigError(f"min_confidence {number} is outside [0, 1]")
    return number


def event_texts(event: dict[str, Any]) -> list[str]:
    """The words a text query is matched against: ``data.text``, ``data.label`` and any
    description in ``data.evidence`` (``description``, ``window_description``, ``caption``)."""
    data = event.get("data") or {}
    texts = [data.get("text"), data.get("label")]
    evidence = data.get("evidence") or {}
    if isinstance(evidence, dict):
        texts += [evidence.get(k) for k in ("description", "window_description", "caption")]
    return [t.strip() for t in texts if isinstance(t, str) and t.strip()]


@dataclass(frozen=True)
class EventFilter:
    """``types`` (full names) and ``min_confidence`` are checked here; ``query`` needs a matcher."""

    types: frozenset[str] | None = None
    min_confidence: float | None = None
    query: str | None = None
    threshold: float | None = None

    @classmethod
    def build(cls, types: Iterable[str] | str | None = None, min_confidence: float | str | None = None,
              query: str | None = None, threshold: float | str | None = None) -> "EventFilter":
        return cls(normalize_types(types), check_confidence(min_confidence), check_query(query),
                   None if threshold in (None, "") else _threshold(threshold))

    def matches_fields(self, event: dict[str, Any]) -> bool:
        if self.types is not None and event.get("type") not in self.types:
            return False
        if self.min_confidence is not None:
            confidence = (event.get("data") or {}).get("confidence")
            if not isinstance(confidence, (int, float)) or confidence < self.min_confidence:
                return False
        return True


def _threshold(value: float | str) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"threshold {value!r} is not a number in [-1, 1]") from None
    if not -1.0 <= number <= 1.0:
        raise ConfigError(f"threshold {number} is outside [-1, 1]")
    return number
