"""Subscribe to a NATS JetStream stream written by the NATS sink (nats-py, pull consumers).

Default: an ephemeral consumer from the stream's end (or after the event ``since``, found by its
``Nats-Msg-Id`` header); the client keeps the stream sequence it reached and, after any outage
(the server restarted, the consumer vanished), makes a new consumer starting right after it.
With ``?durable=NAME``: a durable consumer kept by the server, acknowledged once the caller asked
for the next batch (at-least-once across client restarts).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from ..errors import ConfigError, SourceUnreachableError
from ..serve.filters import EventFilter
from ..sinks.nats_js import DEFAULT_PREFIX, _wait_unless, default_stream_name, subject_for
from ..sinks.uri import BrokerURI, nats_auth
from ._base import Subscription, backoff

_NATS_ERRORS = (nats.errors.Error, nats.js.errors.Error, OSError, asyncio.TimeoutError)


class NatsSubscription(Subscription):
    client_side_query = True

    def __init__(self, b: BrokerURI, flt: EventFilter, *, since: str | None = None, **kwargs: Any) -> None:
        super().__init__(flt, **kwargs)
        self.display = b.display
        self.prefix = b.path.strip("/").replace("/", ".") or DEFAULT_PREFIX
        self.stream = b.query.get("stream") or default_stream_name(self.prefix)
        self.durable = b.query.get("durable") or None
        types = sorted(flt.types or ())
        self.subject = subject_for(self.prefix, types[0]) if len(types) == 1 else f"{self.prefix}.>"
        user, password, token = nats_auth(b)
        self._auth = {k: v for k, v in (("user", user), ("password", password), ("token", token)) if v}
        self._servers = f"nats://{b.host}:{b.port}"
        self._since = since
        self._nc: Any = None
        self._js: Any = None
        self._psub: Any = None
        self._next_seq = 1
        self._to_ack: list[Any] = []
        self._reset = False
        self._last_error = ""

    async def _on_error(self, exc: Exception) -> None:
        self._last_error = str(exc) or type(exc).__name__

    async def _on_reconnect(self) -> None:
        self._reset = True

    async def _connect(self) -> None:
        task = asyncio.ensure_future(nats.connect(
            self._servers, connect_timeout=max(1, int(self.connect_timeout)), max_reconnect_attempts=-1,
            reconnect_time_wait=0.5, error_cb=self._on_error, reconnected_cb=self._on_reconnect, **self._auth))
        try:
            self._nc = await _wait_unless(task, self.connect_timeout,
                                          lambda: "authorization" in self._last_error.lower())
        except asyncio.TimeoutError:
            task.cancel()
            reason = self._last_error or "no answer"
            if "authorization" in reason.lower():
                raise SourceUnreachableError(f"{self.display} refused the credentials ({reason}); "
                                             "check the user and password in the URI") from None
            raise SourceUnreachableError(f"cannot reach NATS {self.display} ({reason}); "
                                         "start it or fix HOST:PORT") from None
        self._js = self._nc.jetstream(timeout=self.connect_timeout)
        try:
            info = await self._js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await self._close()
            raise ConfigError(f"no JetStream stream {self.stream!r} on {self.display}; start the producer "
                              "(a nats:// sink) first or check the prefix / ?stream=") from None
        if self._since is not None:
            found = await self._find(self._since)
            self._next_seq = found + 1 if found else max(1, info.state.first_seq)
        else:
            self._next_seq = info.state.last_seq + 1
        await self._make_consumer(first=True)

    async def _make_consumer(self, first: bool = False) -> None:
        if self._psub is not None:
            try:
                await self._psub.unsubscribe()
            except _NATS_ERRORS:
                pass
            self._psub = None
        if self.durable:
            config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                    opt_start_seq=self._next_seq)
            self._psub = await self._js.pull_subscribe(self.subject, durable=self.durable, stream=self.stream,
                                                       config=config)
        else:
            config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.BY_START_SEQUENCE,
                                    opt_start_seq=self._next_seq, inactive_threshold=30.0, mem_storage=True)
            self._psub = await self._js.pull_subscribe(self.subject, stream=self.stream, config=config)
        self._reset = False

    async def _find(self, event_id: str) -> int | None:
        """The stream sequence of the message whose ``Nats-Msg-Id`` is ``event_id``."""
        config = ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL,
                                headers_only=True, inactive_threshold=10.0, mem_storage=True)
        psub = await self._js.pull_subscribe(self.subject, stream=self.stream, config=config)
        try:
            while True:
                try:
                    msgs = await psub.fetch(1000, timeout=1.0)
                except nats.errors.TimeoutError:
                    return None
                for msg in msgs:
                    if (msg.headers or {}).get("Nats-Msg-Id") == event_id:
                        return msg.metadata.sequence.stream
                if msgs[-1].metadata.num_pending == 0:
                    return None
        finally:
            await psub.unsubscribe()

    async def _fetch(self) -> list[dict[str, Any]]:
        failures = 0
        idle = 0
        while not self._closed:
            try:
                for msg in self._to_ack:
                    await msg.ack()
                self._to_ack = []
                if self._reset or self._psub is None:
                    await self._make_consumer()
                try:
                    msgs = await self._psub.fetch(256, timeout=1.0)
                except nats.errors.TimeoutError:
                    idle += 1
                    if idle % 5 == 0:  # is our consumer still there (a server restart loses ephemeral ones)?
                        await self._psub.consumer_info()
                    continue
            except _NATS_ERRORS:
                failures += 1
                if failures > self.max_retries:
                    raise SourceUnreachableError(f"lost NATS {self.display} and could not reconnect "
                                                 f"after {self.max_retries} tries") from None
                self._reset = True
                await asyncio.sleep(backoff(failures))
                continue
            if failures:
                self.reconnects += 1
            failures = idle = 0
            events = []
            for msg in msgs:
                self._next_seq = msg.metadata.sequence.stream + 1
                self._to_ack.append(msg)
                try:
                    events.append(json.loads(msg.data))
                except ValueError:
                    continue
            if events:
                return events
        return []

    async def _close(self) -> None:
        if self._nc is not None:
            for msg in self._to_ack:
                try:
                    await msg.ack()
                except _NATS_ERRORS:
                    pass
            self._to_ack = []
            if self._psub is not None:
                try:
                    await self._psub.unsubscribe()
                except _NATS_ERRORS:
                    pass
            try:
                await self._nc.close()
            except _NATS_ERRORS:
                pass
            self._nc = None
