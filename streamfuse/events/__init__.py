"""Events: the CloudEvents envelope, its schema (derived from the stages' declarations), and
redaction of credentials."""

from .cloudevents import (EventSchemaError, durative_types, event_schema, event_types, make_event, redact,
                          short_type, validate_event)

__all__ = ["make_event", "validate_event", "event_schema", "event_types", "durative_types", "redact",
           "short_type", "EventSchemaError"]
