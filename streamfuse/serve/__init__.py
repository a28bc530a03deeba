"""The live event server (SSE, WebSocket, health, Prometheus metrics) and its metrics object."""

from .filters import MAX_QUERY_CHARS, EventFilter, event_texts
from .matcher import KeywordMatcher, MiniLMMatcher, TextMatcher
from .metrics import Metrics
from .server import EventServer, is_loopback

__all__ = ["EventServer", "Metrics", "TextMatcher", "MiniLMMatcher", "KeywordMatcher", "EventFilter",
           "event_texts", "MAX_QUERY_CHARS", "is_loopback"]
