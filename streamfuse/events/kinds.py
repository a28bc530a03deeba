"""Event kinds the runtimes and the server add (no stage emits them), and kinds several stages share.

Every other kind is declared by the stage that emits it (its ``spec.kinds``); the registry merges
the stages' declarations with :data:`SYSTEM_KINDS` into the event type list and the JSON Schema.
"""

from __future__ import annotations

from ..spec import EventKind, data

#: a subtitle cue or a recognised utterance: emitted by speech recognition and by the rule fuser
#: (subtitle cues), each of which declares it
TRANSCRIPT = EventKind(
    "transcript", "instant", ("text", "audio"),
    data(required=("text",),
         origin={"enum": ["subtitle", "asr"]},
         words={"type": "array", "items": {"type": "array", "minItems": 3, "maxItems": 4}}),
    doc="a subtitle cue or a recognised utterance, with word times for recognised speech")

_REASON = {"type": "object", "properties": {"reason": {"type": "string"}}}

DAMAGED = EventKind("damaged", "instant", ("video", "audio"),
                    doc="the decoder skipped corrupt data in [start, end)")
SOURCE_CONNECTED = EventKind(
    "source.connected", "instant", ("video", "audio", "text"),
    data={"properties": {"evidence": {"type": "object", "properties": {
        "connects": {"type": "integer", "minimum": 1}, "outage_seconds": {"type": "number", "minimum": 0},
        "streams": {"type": "array", "items": {"type": "string"}}}}}},
    doc="a live feed delivers media (again)")
SOURCE_LOST = EventKind("source.lost", "instant", ("video", "audio", "text"),
                        data={"properties": {"evidence": _REASON}}, doc="a live feed dropped, failed or stalled")
FRAMES_DROPPED = EventKind(
    "frames.dropped", "instant", ("video", "audio"),
    data={"required": ["label"], "properties": {"evidence": {"type": "object", "required": ["count", "reason"],
                                                            "properties": {"count": {"type": "integer",
                                                                                     "minimum": 1}}}}},
    doc="live frames dropped because processing fell behind or data came too late")
QUERY_MATCH = EventKind("query.match", "instant", ("video", "audio", "text"), data={"required": ["text"]},
                        doc="a moment that matches a text query")

_ZONE = {"required": ["label"], "properties": {"evidence": {"type": "object", "required": ["zone", "object"],
                                                         "properties": {"zone": {"type": "string"},
                                                                        "object": {"type": "string"}}}}}
ZONE_ENTER = EventKind("zone.enter", "instant", ("video",), data=_ZONE,
                       doc="a tracked object or person entered a camera's zone (label = the zone)")
ZONE_LEAVE = EventKind("zone.leave", "instant", ("video",), data=_ZONE,
                       doc="a tracked object or person left a camera's zone (label = the zone)")

SYSTEM_KINDS = (DAMAGED, SOURCE_CONNECTED, SOURCE_LOST, FRAMES_DROPPED, QUERY_MATCH, ZONE_ENTER, ZONE_LEAVE)
