"""Subscribe to an MQTT sink's ``<prefix>/events`` topic (paho-mqtt 2.x, QoS 1).

With ``?client_id=NAME`` the session is persistent (clean session off): the broker keeps the
subscription and queues QoS 1 messages while this client is away, across a broker restart if the
broker persists sessions. MQTT keeps no history, so there is no ``since``.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import deque
from typing import Any

import paho.mqtt.client as mqtt

from ..errors import ConfigError, SourceUnreachableError
from ..serve.filters import EventFilter
from ..sinks.uri import BrokerURI
from ._base import Subscription


class MqttSubscription(Subscription):
    client_side_query = True

    def __init__(self, b: BrokerURI, flt: EventFilter, *, since: str | None = None, max_queue: int = 10_000,
                 **kwargs: Any) -> None:
        if since is not None:
            raise ConfigError("MQTT keeps no history, so --since cannot replay; subscribe to the live server "
                              "(http://...) or to redis:// or nats:// to replay")
        super().__init__(flt, **kwargs)
        self.display = b.display
        self.topic = f"{b.path.strip('/') or 'streamfuse'}/events"
        self._b = b
        client_id = b.query.get("client_id")
        self._client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,
                                   client_id=client_id or f"streamfuse-sub-{uuid.uuid4().hex[:12]}",
                                   protocol=mqtt.MQTTv311, clean_session=not client_id)
        if b.username is not None:
            self._client.username_pw_set(b.username, b.password)
        self._client.reconnect_delay_set(0.2, 2.0)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_subscribe = self._on_subscribe
        self._client.on_connect_fail = self._on_connect_fail
        self._queue: deque[bytes] = deque()
        self._max_queue = max_queue
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = asyncio.Event()
        self._arrived = asyncio.Event()
        self._subscribed = threading.Event()
        self._refused: str | None = None
        self._auth_failed = False
        self._connects = 0
        self.overflow = 0  # messages dropped (oldest first) because this client read too slowly

    # paho's network thread
    def _on_connect(self, client: mqtt.Client, userdata: Any, flags: Any, reason_code: Any, properties: Any) -> None:
        if reason_code.is_failure:
            self._refused = str(reason_code)
            self._auth_failed = reason_code.value in (0x86, 0x87, 4, 5)
            return
        self._connects += 1
        if self._connects > 1:
            self.reconnects += 1
        client.subscribe(self.topic, qos=1)  # ready once the broker acknowledged it (on_subscribe)

    def _on_subscribe(self, client: mqtt.Client, userdata: Any, mid: int, reason_codes: Any, properties: Any) -> None:
        if reason_codes and not reason_codes[0].is_failure:
            self._call(self._ready.set)
        else:
            self._refused = f"subscription to {self.topic} refused"

    def _on_connect_fail(self, client: mqtt.Client, userdata: Any) -> None:
        self._refused = "connection refused or unreachable"

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        self._call(self._put, message.payload)

    def _call(self, fn: Any, *args: Any) -> None:
        if self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(fn, *args)
            except RuntimeError:
                pass  # the loop is closed: we are shutting down

    # the subscriber's loop
    def _put(self, payload: bytes) -> None:
        if len(self._queue) >= self._max_queue:
            self._queue.popleft()
            self.overflow += 1
        self._queue.append(payload)
        self._arrived.set()

    async def _connect(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._client.connect_async(self._b.host, self._b.port, 30)
        self._client.loop_start()
        try:
            deadline = self._loop.time() + self.connect_timeout
            while not self._ready.is_set():
                if self._auth_failed or self._loop.time() > deadline:  # refused credentials stay refused
                    raise asyncio.TimeoutError
                try:
                    await asyncio.wait_for(self._ready.wait(), 0.05)
                except asyncio.TimeoutError:
                    pass
        except asyncio.TimeoutError:
            await self._close()
            if self._auth_failed:
                raise SourceUnreachableError(f"{self.display} refused the credentials ({self._refused}); "
                                             "check the user and password in the URI") from None
            raise SourceUnreachableError(f"cannot reach MQTT broker {self.display} "
                                         f"({self._refused or 'no answer'}); start it or fix HOST:PORT") from None

    async def _fetch(self) -> list[dict[str, Any]]:
        while not self._queue:
            if self._closed:
                return []
            self._arrived.clear()
            if self._queue:
                break
            try:
                await asyncio.wait_for(self._arrived.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
        out = []
        while self._queue:
            try:
                event = json.loads(self._queue.popleft())
            except ValueError:
                continue
            if isinstance(event, dict):
                out.append(event)
        return out

    async def _close(self) -> None:
        self._client.disconnect()
        await asyncio.to_thread(self._client.loop_stop)
