"""The JSON Schema of streamfuse events, derived from the event kinds the stages declare.

The envelope (CloudEvents 1.0, JSON structured mode) is fixed; ``type`` is one of the declared
kinds, and each kind's ``data`` fragments (see :class:`~streamfuse.spec.EventKind`) constrain the
``data`` of its events (with several declarations of one kind, an event satisfies one of them).
``streamfuse schema`` prints it; ``streamfuse/events/schemas/event.schema.json`` is the same
schema for the built-in stages, written by ``streamfuse schema -o`` and checked by a test.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from ..spec import EventKind

SCHEMA_ID = "https://streamfuse.dev/schemas/event.schema.json"


def _data() -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["phase", "event_id", "start", "end", "confidence", "modalities", "evidence"],
        "additionalProperties": False,
        "properties": {
            "phase": {"enum": ["start", "update", "end", "instant"]},
            "event_id": {"type": "string", "minLength": 1, "maxLength": 256},
            "start": {"$ref": "#/$defs/seconds"},
            "end": {"$ref": "#/$defs/seconds"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "modalities": {"type": "array", "uniqueItems": True, "minItems": 1,
                           "items": {"enum": ["video", "audio", "text"]}},
            "text": {"type": "string"},
            "label": {"type": "string"},
            "evidence": {"type": "object"},
            "wallclock": {"type": "string"},
        },
    }


def _kind_rule(name: str, declared: Sequence[EventKind]) -> dict[str, Any] | None:
    phases = set()
    for k in declared:
        if k.durative:
            phases |= {"start", "update", "end"}
        if k.instant:
            phases.add("instant")
    fragments = [dict(k.data) for k in declared if k.data]
    data: dict[str, Any] = {"properties": {"phase": {"enum": sorted(phases)}}}
    if fragments:
        data["anyOf" if len(fragments) > 1 else "allOf"] = fragments
    return {"if": {"properties": {"type": {"const": f"streamfuse.{name}"}}},
            "then": {"properties": {"data": data}}}


def build_schema(kinds: Mapping[str, Sequence[EventKind]]) -> dict[str, Any]:
    """The event schema for ``kinds`` (name -> its declarations)."""
    names = list(kinds)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "streamfuse event (CloudEvents 1.0, JSON structured mode)",
        "type": "object",
        "required": ["specversion", "id", "source", "type", "time", "subject", "datacontenttype", "data"],
        "additionalProperties": False,
        "properties": {
            "specversion": {"const": "1.0"},
            "id": {"type": "string", "minLength": 1, "maxLength": 256},
            "source": {"type": "string", "pattern": "^streamfuse://[^\\s]+$"},
            "type": {"enum": [f"streamfuse.{n}" for n in names]},
            "time": {"type": "string", "format": "date-time",
                     "pattern": "^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$"},
            "subject": {"type": "string", "minLength": 1},
            "datacontenttype": {"const": "application/json"},
            "data": {"$ref": "#/$defs/data"},
        },
        "allOf": [rule for n in names if (rule := _kind_rule(n, kinds[n])) is not None],
        "$defs": {"seconds": {"type": "number", "minimum": 0}, "data": _data()},
    }
