"""Events as CloudEvents 1.0 (JSON structured mode), and their JSON Schema.

An event is a plain ``dict`` ready for ``json.dumps``; :func:`validate_event` checks one against the
schema derived from the stages' declared event kinds (:mod:`.schema`; the package ships it for the
built-in stages as ``streamfuse/events/schemas/event.schema.json``).
"""

from __future__ import annotations

import datetime as _dt
import re
from typing import Any, Iterable, Literal
from urllib.parse import urlsplit, urlunsplit

import jsonschema

from ..errors import StreamfuseError

Phase = Literal["start", "update", "end", "instant"]

def event_types() -> tuple[str, ...]:
    """The event types streamfuse emits (``type`` is ``"streamfuse." + name``): every kind the
    registered stages declare, and the runtimes' own (derived, see :mod:`streamfuse.registry`)."""
    from .. import registry

    return tuple(registry.event_kinds())


def durative_types() -> frozenset[str]:
    """The event types that come as start / update / end series."""
    from .. import registry

    return frozenset(n for n, declared in registry.event_kinds().items() if any(k.durative for k in declared))


class EventSchemaError(StreamfuseError, ValueError):
    """An event that does not validate against the shipped schema."""


#: query parameters whose values are secrets (a name ending so: ``password``, ``api_key``, SRT's ``passphrase``)
SECRET_PARAMS = r"pass(?:word|phrase)?|token|secret|key|auth"


def redact(uri: str) -> str:
    """``rtsp://user:pass@host/x`` -> ``rtsp://***@host/x``; query values named like secrets
    (:data:`SECRET_PARAMS`) too."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return uri
    if not parts.scheme or not parts.netloc:
        return uri
    netloc = parts.netloc
    if "@" in netloc:
        netloc = "***@" + netloc.rsplit("@", 1)[1]
    query = re.sub(rf"(?i)((?:{SECRET_PARAMS})=)[^&]*", r"\1***", parts.query)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def now_rfc3339() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def make_event(*, source_id: str, subject: str, type: str, seq: int, phase: Phase, event_id: str,
               start: float, end: float, confidence: float, modalities: Iterable[str],
               text: str | None = None, label: str | None = None,
               evidence: dict[str, Any] | None = None, time: str | None = None,
               run: str | None = None) -> dict[str, Any]:
    """Build one event. ``seq`` numbers the events of a source (the CloudEvents ``id`` is
    ``"<source_id>-<seq>"``, unique per source); ``start``/``end`` are media seconds. ``run``
    tells apart the runs of a live source (``"<source_id>-<run>-<seq>"``), so a restarted
    ``watch`` does not reuse the ids of the previous run, which subscribers would drop as seen."""
    if type not in _types():
        raise ValueError(f"unknown event type {type!r}: no registered stage declares it")
    data: dict[str, Any] = {
        "phase": phase, "event_id": event_id,
        "start": round(float(start), 6), "end": round(float(max(end, start)), 6),
        "confidence": round(min(max(float(confidence), 0.0), 1.0), 4),
        "modalities": sorted(set(modalities), key=["video", "audio", "text"].index),
        "evidence": evidence or {},
    }
    if text is not None:
        data["text"] = text
    if label is not None:
        data["label"] = label
    return {
        "specversion": "1.0",
        "id": f"{source_id}-{run}-{seq:08d}" if run else f"{source_id}-{seq:08d}",
        "source": f"streamfuse://{source_id}",
        "type": f"streamfuse.{type}",
        "time": time or now_rfc3339(),
        "subject": redact(subject),
        "datacontenttype": "application/json",
        "data": data,
    }


def run_token() -> str:
    """A short token that differs between runs started at different times (base-36 milliseconds)."""
    n = int(_dt.datetime.now(_dt.timezone.utc).timestamp() * 1000)
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out


def short_type(event: dict[str, Any]) -> str:
    """``"streamfuse.speech"`` -> ``"speech"``."""
    return event["type"].removeprefix("streamfuse.")


def _types() -> frozenset[str]:
    return frozenset(_compiled()[0])


def event_schema() -> dict[str, Any]:
    """The JSON Schema events validate against, for the stages registered now."""
    return _compiled()[1]


_cache: tuple[int, tuple[str, ...], dict[str, Any], Any] | None = None


def _compiled() -> tuple[tuple[str, ...], dict[str, Any], Any]:
    """(types, schema, validator), rebuilt when a stage is registered."""
    global _cache
    from .. import registry
    from .schema import build_schema

    current = registry.version()
    if _cache is None or _cache[0] != current:
        kinds = registry.event_kinds()
        schema = build_schema(kinds)
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _cache = (current, tuple(kinds), schema, cls(schema, format_checker=cls.FORMAT_CHECKER))
    return _cache[1], _cache[2], _cache[3]


def validate_event(event: dict[str, Any]) -> None:
    """Raise :class:`EventSchemaError` (with the first problem) if ``event`` does not validate."""
    error = jsonschema.exceptions.best_match(_compiled()[2].iter_errors(event))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "event"
        raise EventSchemaError(f"invalid event at {where}: {error.message}")
