"""Subscribe to a Redis stream written by the Redis sink (redis.asyncio).

Without a group: ``XREAD`` from the newest entry at start (or after the event ``since``, found by
scanning the stream's ``id`` fields; an id no longer in the stream replays the whole stream).
With ``?group=NAME`` (and optional ``consumer=NAME``): ``XREADGROUP``; the group is created at the
stream's end if absent; entries are acknowledged (``XACK``) once the caller asked for the next
batch, and a restarted consumer first gets its unacknowledged entries again (at-least-once).
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from typing import Any

import redis.asyncio as aioredis
import redis.exceptions as rexc
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from ..errors import ConfigError, SourceUnreachableError
from ..serve.filters import EventFilter
from ..sinks.redis_streams import DEFAULT_STREAM
from ..sinks.uri import BrokerURI, redis_connection
from ._base import Subscription, backoff

_DOWN = (rexc.ConnectionError, rexc.TimeoutError, OSError)


class RedisSubscription(Subscription):
    client_side_query = True

    def __init__(self, b: BrokerURI, flt: EventFilter, *, since: str | None = None, block_ms: int = 1000,
                 **kwargs: Any) -> None:
        super().__init__(flt, **kwargs)
        self.display = b.display
        self.stream = b.query.get("stream", DEFAULT_STREAM)
        self.group = b.query.get("group") or None
        self.consumer = b.query.get("consumer") or f"{socket.gethostname()}-{os.getpid()}"
        if self.group and since is not None:
            raise ConfigError("--since cannot be combined with a consumer group (the group keeps its own "
                              "position); leave out ?group= to replay")
        self._since = since
        self._block_ms = block_ms
        self._connection = redis_connection(b)
        self._redis: aioredis.Redis | None = None
        self._last_id = "$"
        self._to_ack: list[str] = []
        self._backlog_first = True  # group mode: read our own unacknowledged entries first

    async def _connect(self) -> None:
        self._redis = aioredis.Redis(**self._connection, socket_connect_timeout=self.connect_timeout,
                                     socket_timeout=self._block_ms / 1000 + self.connect_timeout,
                                     retry=Retry(NoBackoff(), 0))  # _fetch retries with backoff
        try:
            await self._redis.ping()
            if self.group:
                await self._ensure_group("$")
            elif self._since is not None:
                self._last_id = await self._find(self._since)
            else:
                newest = await self._redis.xrevrange(self.stream, count=1)
                self._last_id = newest[0][0].decode() if newest else "0-0"
        except rexc.AuthenticationError as exc:
            await self._close()
            raise SourceUnreachableError(f"{self.display} refused the credentials ({exc}); "
                                         "check the password in the URI") from None
        except _DOWN as exc:
            await self._close()
            raise SourceUnreachableError(f"cannot reach Redis {self.display} ({exc}); "
                                         "start it or fix HOST:PORT") from None

    async def _ensure_group(self, start: str) -> None:
        try:
            await self._redis.xgroup_create(self.stream, self.group, id=start, mkstream=True)
        except rexc.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def _find(self, event_id: str) -> str:
        """The stream id of the entry holding ``event_id``; ``0-0`` (everything) if none does."""
        start = "-"
        while True:
            entries = await self._redis.xrange(self.stream, min=start, max="+", count=1000)
            for entry_id, fields in entries:
                if fields.get(b"id", b"").decode() == event_id:
                    return entry_id.decode()
            if len(entries) < 1000:
                return "0-0"
            start = "(" + entries[-1][0].decode()

    async def _fetch(self) -> list[dict[str, Any]]:
        failures = 0
        while not self._closed:
            try:
                if self._to_ack:
                    await self._redis.xack(self.stream, self.group, *self._to_ack)
                    self._to_ack = []
                if self.group:
                    position, block = ("0", None) if self._backlog_first else (">", self._block_ms)
                    reply = await self._redis.xreadgroup(self.group, self.consumer, {self.stream: position},
                                                         count=256, block=block)
                else:
                    reply = await self._redis.xread({self.stream: self._last_id}, count=256, block=self._block_ms)
            except rexc.ResponseError as exc:
                if self.group and "NOGROUP" in str(exc):  # the server lost the stream (restart without data)
                    await self._ensure_group("0")
                    continue
                raise
            except _DOWN:
                failures += 1
                if failures > self.max_retries:
                    raise SourceUnreachableError(f"lost Redis {self.display} and could not reconnect "
                                                 f"after {self.max_retries} tries") from None
                await asyncio.sleep(backoff(failures))
                continue
            if failures:
                self.reconnects += 1
                failures = 0
            entries = reply[0][1] if reply else []
            if self.group and self._backlog_first and not entries:
                self._backlog_first = False
                continue
            events = []
            for entry_id, fields in entries:
                entry = entry_id.decode()
                if self.group:
                    self._to_ack.append(entry)
                else:
                    self._last_id = entry
                try:
                    events.append(json.loads(fields[b"event"]))
                except (KeyError, ValueError):
                    continue
            if events:
                return events
        return []

    async def _close(self) -> None:
        if self._redis is not None:
            if self._to_ack and self.group:
                try:
                    await self._redis.xack(self.stream, self.group, *self._to_ack)
                except (rexc.RedisError, OSError):
                    pass
            await self._redis.aclose()
            self._redis = None
