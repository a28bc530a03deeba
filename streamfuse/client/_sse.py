"""Subscribe to the live server's ``/events`` (Server-Sent Events over aiohttp), resuming with
``Last-Event-ID`` after a dropped connection."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp

from ..errors import ConfigError, SourceUnreachableError, UserInputError
from ..events.cloudevents import redact
from ..serve.filters import EventFilter
from ._base import Subscription, backoff


class _Retry(Exception):
    """The connection failed in a way worth retrying."""


class SseParser:
    """Incremental ``text/event-stream`` parser: feed bytes, get ``(id, type, data)`` events."""

    def __init__(self) -> None:
        self._buffer = b""
        self._data: list[str] = []
        self._type = ""
        self.last_id: str | None = None  # the stream's last event id (SSE spec: survives events)
        self.retry_ms: int | None = None

    def feed(self, chunk: bytes) -> list[tuple[str | None, str, str]]:
        self._buffer += chunk
        out = []
        while True:
            cut = self._buffer.find(b"\n")
            if cut < 0:
                break
            line = self._buffer[:cut].rstrip(b"\r").decode("utf-8", errors="replace")
            self._buffer = self._buffer[cut + 1:]
            if not line:
                if self._data:
                    out.append((self.last_id, self._type or "message", "\n".join(self._data)))
                self._data, self._type = [], ""
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data":
                self._data.append(value)
            elif name == "event":
                self._type = value
            elif name == "id" and "\0" not in value:
                self.last_id = value
            elif name == "retry" and value.isdigit():
                self.retry_ms = int(value)
        return out


def events_url(url: str) -> str:
    """``http://host:8765`` -> ``http://host:8765/events``; a given path is kept."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ConfigError(f"bad server URL {redact(url)}: no host; e.g. http://127.0.0.1:8765")
    path = parts.path if parts.path not in ("", "/") else "/events"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


class SseSubscription(Subscription):
    def __init__(self, url: str, flt: EventFilter, *, since: str | None = None, token: str | None = None,
                 read_timeout: float = 60.0, **kwargs: Any) -> None:
        super().__init__(flt, **kwargs)
        self.url = events_url(url)
        self.display = redact(self.url)
        self._since = since
        self._token = token
        self._read_timeout = read_timeout
        self._session: aiohttp.ClientSession | None = None
        self._response: aiohttp.ClientResponse | None = None
        self._parser = SseParser()

    def _params(self) -> list[tuple[str, str]]:
        params = [("type", t) for t in sorted(self.filter.types or ())]
        if self.filter.min_confidence is not None:
            params.append(("min_confidence", repr(self.filter.min_confidence)))
        if self.filter.query is not None:
            params.append(("q", self.filter.query))
        if self.filter.threshold is not None:
            params.append(("threshold", repr(self.filter.threshold)))
        if self._since is not None and self._parser.last_id is None:
            params.append(("since", self._since))
        return params

    async def _open(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        headers = {"Accept": "text/event-stream"}
        if self._token:
            headers["Authorization"] = f"Bearer {self._token}"
        if self._parser.last_id is not None:
            headers["Last-Event-ID"] = self._parser.last_id
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.connect_timeout,
                                        sock_read=self._read_timeout)
        try:
            response = await self._session.get(self.url, params=self._params(), headers=headers, timeout=timeout)
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as exc:
            raise _Retry(str(exc) or type(exc).__name__) from None
        if response.status == 200:
            self._response = response
            self._parser = _continue(self._parser)
            return
        text = (await response.text(errors="replace")).strip().splitlines()
        response.release()
        reason = text[0] if text else f"HTTP {response.status}"
        if response.status == 401:
            raise UserInputError(f"{self.display} needs a bearer token ({reason}); "
                                 "set STREAMFUSE_TOKEN or pass --token")
        if response.status in (400, 404, 405):
            raise ConfigError(f"{self.display} refused the subscription: {reason}")
        raise _Retry(reason)

    async def _connect(self) -> None:
        try:
            await self._open()
        except _Retry as exc:
            await self._close()
            raise SourceUnreachableError(f"cannot reach {self.display} ({exc}); is the live server "
                                         "(streamfuse watch --serve) running there?") from None
        except BaseException:
            await self._close()
            raise

    async def _fetch(self) -> list[dict[str, Any]]:
        failures = 0
        while True:
            if self._response is not None:
                try:
                    chunk = await self._response.content.readany()
                except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                    chunk = b""
                if chunk:
                    events = []
                    for _, _, data in self._parser.feed(chunk):
                        try:
                            events.append(json.loads(data))
                        except ValueError:
                            continue
                    if events:
                        return events
                    continue
                self._response.release()
                self._response = None  # the stream ended: reconnect, resuming after the last id
            if self._closed:
                return []
            failures += 1
            if failures > self.max_retries:
                raise SourceUnreachableError(f"lost {self.display} and could not reconnect "
                                             f"after {self.max_retries} tries")
            await asyncio.sleep(backoff(failures, cap=max(1.0, (self._parser.retry_ms or 1000) / 1000 * 5)))
            try:
                await self._open()
                self.reconnects += 1
            except _Retry:
                continue

    async def _close(self) -> None:
        if self._response is not None:
            self._response.close()
            self._response = None
        if self._session is not None:
            await self._session.close()
            self._session = None


def _continue(parser: SseParser) -> SseParser:
    """A fresh parser for a new connection that keeps the last event id and retry."""
    fresh = SseParser()
    fresh.last_id, fresh.retry_ms = parser.last_id, parser.retry_ms
    return fresh
