"""NATS JetStream sink (nats-py).

Each event is published to ``<prefix>.<short type>`` with dots in the type turned into ``_``
(``streamfuse.events.speech``, ``streamfuse.events.scene_cut``), with the header ``Nats-Msg-Id`` set to
the CloudEvents id so the server drops a re-sent duplicate within the stream's duplicate window
(2 minutes by default). The stream (default name: the prefix upper-cased, ``STREAMFUSE_EVENTS``,
capturing ``<prefix>.>``) is created if absent. An event leaves the durable buffer once JetStream
acknowledged it. nats-py is asynchronous: the transport owns an asyncio loop in a thread of its own.
"""

from __future__ import annotations

import asyncio
import json
import re
import threading
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.js.api import DiscardPolicy, StorageType, StreamConfig

from ._delivery import TransportError

DEFAULT_PREFIX = "streamfuse.events"


def subject_for(prefix: str, event_type: str) -> str:
    """``("streamfuse.events", "scene.cut")`` -> ``"streamfuse.events.scene_cut"``."""
    return f"{prefix}.{event_type.removeprefix('streamfuse.').replace('.', '_')}"


async def _wait_unless(task: "asyncio.Future[Any]", timeout: float, give_up: Any) -> Any:
    """Wait for ``task`` (without cancelling it) until ``timeout`` or until ``give_up()`` is true."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        left = deadline - asyncio.get_running_loop().time()
        if left <= 0 or give_up():
            raise asyncio.TimeoutError
        done, _ = await asyncio.wait({task}, timeout=min(0.05, left))
        if done:
            return task.result()


def default_stream_name(prefix: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", prefix).upper() or "STREAMFUSE"


class NatsJetStreamTransport:
    def __init__(self, servers: str, *, prefix: str = DEFAULT_PREFIX, stream: str | None = None,
                 user: str | None = None, password: str | None = None, token: str | None = None,
                 max_msgs: int = 1_000_000, duplicate_window: float = 120.0, display: str = "") -> None:
        self.display = display or servers
        self.prefix = prefix
        self.stream = stream or default_stream_name(prefix)
        self.max_msgs = max_msgs
        self.duplicate_window = duplicate_window
        self._servers = servers
        self._auth = {k: v for k, v in (("user", user), ("password", password), ("token", token)) if v}
        self.secrets = tuple(x for x in (password, token) if x)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="streamfuse-nats-sink", daemon=True)
        self._thread.start()
        self._nc: Any = None
        self._js: Any = None
        self._connect_task: asyncio.Future | None = None
        self._stream_ready = False
        self.refused: str | None = None
        self.auth_failed = False

    def _run(self, coro: Any, timeout: float) -> Any:
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        try:
            return future.result(timeout)
        except TimeoutError:
            future.cancel()
            raise

    @property
    def connected(self) -> bool:
        return self._nc is not None and self._nc.is_connected and self._stream_ready

    def connect(self, timeout: float) -> None:
        try:
            self._run(self._connect(timeout), timeout + 1.0)
        except TimeoutError:
            raise TransportError(f"cannot reach NATS at {self.display}: {self.refused or 'no answer'}") from None
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            raise TransportError(f"NATS at {self.display}: {exc}") from None

    async def _connect(self, timeout: float) -> None:
        if self._connect_task is None:
            self._connect_task = asyncio.ensure_future(nats.connect(
                self._servers, connect_timeout=max(1, int(timeout)), max_reconnect_attempts=-1,
                reconnect_time_wait=0.5, error_cb=self._on_error, allow_reconnect=True,
                pending_size=0,  # no client-side buffering while reconnecting: our durable buffer does that
                **self._auth))
        try:
            self._nc = await _wait_unless(self._connect_task, timeout, lambda: self.auth_failed)
        except asyncio.TimeoutError:
            raise TimeoutError from None
        except Exception:
            self._connect_task = None
            raise
        deadline = asyncio.get_running_loop().time() + timeout
        while not self._nc.is_connected:  # nats-py is reconnecting by itself
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError
            await asyncio.sleep(0.05)
        self.refused, self.auth_failed = None, False
        if self._js is None:
            self._js = self._nc.jetstream(timeout=timeout)
        if not self._stream_ready:
            await self._ensure_stream()

    async def _on_error(self, exc: Exception) -> None:
        self.refused = str(exc) or type(exc).__name__
        if "authorization" in self.refused.lower() or "authentication" in self.refused.lower():
            self.auth_failed = True

    async def _ensure_stream(self) -> None:
        try:
            await self._js.stream_info(self.stream)
        except nats.js.errors.NotFoundError:
            await self._js.add_stream(StreamConfig(
                name=self.stream, subjects=[f"{self.prefix}.>"], storage=StorageType.FILE,
                max_msgs=self.max_msgs, discard=DiscardPolicy.OLD, duplicate_window=self.duplicate_window))
        self._stream_ready = True

    def publish(self, events: list[dict[str, Any]], timeout: float) -> int:
        try:
            return self._run(self._publish(events, timeout), timeout + 1.0)
        except TimeoutError:
            return 0

    async def _publish(self, events: list[dict[str, Any]], timeout: float) -> int:
        futures = []
        if not self._nc.is_connected:
            raise TransportError(f"NATS at {self.display}: not connected")
        try:
            for event in events:
                payload = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
                futures.append(await self._js.publish_async(
                    subject_for(self.prefix, event["type"]), payload,
                    headers={"Nats-Msg-Id": event["id"]}, wait_stall=timeout))
            await asyncio.wait(futures, timeout=timeout)
        except (nats.errors.Error, nats.js.errors.Error, OSError) as exc:
            self._note_failure(exc)
        done = 0
        for future in futures:
            if not future.done() or future.cancelled() or future.exception() is not None:
                break
            done += 1
        for future in futures[done:]:
            if future.done() and not future.cancelled() and future.exception() is not None:
                self._note_failure(future.exception())
            future.cancel()
        return done

    def _note_failure(self, exc: BaseException | None) -> None:
        if isinstance(exc, (nats.js.errors.NoStreamResponseError, nats.js.errors.NotFoundError,
                            nats.errors.NoRespondersError)):
            self._stream_ready = False  # the stream went away (a server that lost its store)
        if exc is not None:
            self.refused = str(exc) or type(exc).__name__

    def close(self, timeout: float) -> None:
        async def _close() -> None:
            if self._connect_task is not None and not self._connect_task.done():
                self._connect_task.cancel()
            if self._nc is not None and not self._nc.is_closed:
                try:
                    await asyncio.wait_for(self._nc.drain(), timeout)
                except Exception:  # noqa: BLE001 - closing anyway
                    await self._nc.close()
        try:
            self._run(_close(), timeout + 1.0)
        except Exception:  # noqa: BLE001
            pass
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout)
            if not self._thread.is_alive():
                self._loop.close()
