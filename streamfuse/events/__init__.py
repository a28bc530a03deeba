"""Events: the CloudEvents envelope, its schema, and redaction of credentials."""

from .cloudevents import (DURATIVE_TYPES, EVENT_TYPES, EventSchemaError, event_schema, make_event,
                          redact, short_type, validate_event)

__all__ = ["make_event", "validate_event", "event_schema", "redact", "short_type", "EVENT_TYPES",
           "DURATIVE_TYPES", "EventSchemaError"]
