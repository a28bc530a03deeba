"""Redis Streams sink (redis-py).

Each event is one ``XADD <stream> MAXLEN ~ <maxlen> * event <json> id <cloudevents id>`` (the
``id`` field lets readers find an event without decoding every entry). A batch goes in one
pipeline; an event leaves the durable buffer once Redis answered its XADD. Readers use ``XREAD``
or a consumer group (``XREADGROUP``), e.g. ``streamfuse subscribe redis://host/0?group=NAME``.
"""

from __future__ import annotations

import json
from typing import Any

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ._delivery import TransportError

DEFAULT_STREAM = "streamfuse:events"


class RedisStreamTransport:
    def __init__(self, connection: dict[str, Any], *, stream: str = DEFAULT_STREAM, maxlen: int = 100_000,
                 display: str = "") -> None:
        self.display = display or f"redis://{connection.get('host')}:{connection.get('port')}"
        self.stream = stream
        self.maxlen = maxlen
        self._connection = connection
        self.secrets = tuple(x for x in (connection.get("password"),) if x)
        self._redis: redis.Redis | None = None
        self._ok = False
        self.auth_failed = False
        self.refused: str | None = None

    @property
    def connected(self) -> bool:
        return self._ok

    def connect(self, timeout: float) -> None:
        if self._redis is None:
            self._redis = redis.Redis(**self._connection, socket_connect_timeout=timeout,
                                      socket_timeout=timeout, health_check_interval=15,
                                      retry=Retry(NoBackoff(), 0))  # the delivery thread retries
        try:
            self._redis.ping()
        except redis.exceptions.AuthenticationError as exc:
            self.auth_failed, self.refused = True, str(exc)
            raise TransportError(f"Redis at {self.display} refused the credentials: {exc}") from None
        except redis.exceptions.ResponseError as exc:  # e.g. NOPERM
            self.auth_failed = "perm" in str(exc).lower() or "auth" in str(exc).lower()
            self.refused = str(exc)
            raise TransportError(f"Redis at {self.display}: {exc}") from None
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            self.refused = str(exc) or type(exc).__name__
            raise TransportError(f"cannot reach Redis at {self.display}: {self.refused}") from None
        self._ok, self.auth_failed, self.refused = True, False, None

    def publish(self, events: list[dict[str, Any]], timeout: float) -> int:
        if self._redis is None:
            raise TransportError("not connected")
        pipe = self._redis.pipeline(transaction=False)
        for event in events:
            pipe.xadd(self.stream, {"event": json.dumps(event, separators=(",", ":"), ensure_ascii=False),
                                    "id": event.get("id", "")},
                      maxlen=self.maxlen, approximate=True)
        try:
            pipe.execute()
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
            self._ok = False
            raise TransportError(f"Redis at {self.display}: {exc}") from None
        return len(events)

    def close(self, timeout: float) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        self._ok = False
