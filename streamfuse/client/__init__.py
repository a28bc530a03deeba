"""Subscribe to events: from the live server (SSE) or straight from a broker.

``subscribe(url_or_uri, ...)`` returns a :class:`Subscription`: an async iterator of event dicts
(each CloudEvents id at most once, in the order the source delivered them) that is also an async
context manager::

    async with subscribe("http://127.0.0.1:8765", types=["speech"]) as events:
        async for event in events:
            ...
"""

from __future__ import annotations

from typing import Any, Iterable

from ..config.loader import env_token
from ..errors import ConfigError
from ..events.cloudevents import redact
from ..serve.filters import EventFilter
from ..serve.matcher import TextMatcher
from ._base import Subscription

SUBSCRIBE_SCHEMES = ("http", "https", "mqtt", "redis", "rediss", "nats")


def subscribe(url_or_uri: str, types: Iterable[str] | str | None = None, query: str | None = None,
              since: str | None = None, min_confidence: float | None = None, *, token: str | None = None,
              threshold: float | None = None, matcher: TextMatcher | None = None, max_retries: int = 60,
              connect_timeout: float = 5.0) -> Subscription:
    """Events from ``url_or_uri``: ``http(s)://HOST:PORT`` (the live server; filters run there),
    ``mqtt://``, ``redis://`` (``?stream=``, ``?group=``), ``nats://`` (``?stream=``, ``?durable=``).

    ``types``: short (``speech``) or full (``streamfuse.speech``) type names; ``query``: a text query
    (the server matches it; for brokers the client does, with the bundled MiniLM); ``since``: an
    event id to resume after (not for MQTT); ``token``: the server's bearer token (default
    ``$STREAMFUSE_TOKEN``). Bad arguments raise :class:`~streamfuse.errors.ConfigError`.
    """
    flt = EventFilter.build(types, min_confidence, query, threshold)
    common: dict[str, Any] = {"matcher": matcher, "max_retries": max_retries, "connect_timeout": connect_timeout}
    scheme = url_or_uri.split("://", 1)[0].lower() if "://" in url_or_uri else ""
    if scheme not in SUBSCRIBE_SCHEMES:
        raise ConfigError(f"cannot subscribe to {redact(url_or_uri)!r}: use one of "
                          f"{', '.join(s + '://' for s in SUBSCRIBE_SCHEMES)}")
    if scheme in ("http", "https"):
        from ._sse import SseSubscription
        return SseSubscription(url_or_uri, flt, since=since, token=token or env_token(),
                               **common)
    from ..sinks.uri import parse_broker_uri
    b = parse_broker_uri(url_or_uri)
    if scheme == "mqtt":
        from ._mqtt import MqttSubscription
        return MqttSubscription(b, flt, since=since, **common)
    if scheme in ("redis", "rediss"):
        from ._redis import RedisSubscription
        return RedisSubscription(b, flt, since=since, **common)
    from ._nats import NatsSubscription
    return NatsSubscription(b, flt, since=since, **common)


__all__ = ["subscribe", "Subscription", "SUBSCRIBE_SCHEMES"]
