"""The live event server: Server-Sent Events, WebSocket, health and metrics over aiohttp.

:class:`EventServer` is an :class:`~streamfuse.sinks.base.EventSink`: the pipeline calls ``emit``
from its thread; the server runs aiohttp on an asyncio loop in a thread of its own.

Every emitted event is appended to a bounded :class:`~streamfuse.sinks.durable.DurableLog` (in
``log_dir``; a temporary folder when none is given). Each subscriber is a cursor into that log: it
reads the events after its position, filters them, and sends them, so replay (``since`` /
``Last-Event-ID``) and live delivery are one path and never duplicate or reorder. A slow subscriber
holds no queue: it just lags; if it falls behind the log's bound, the oldest events it had not read
are gone (policy: drop oldest, counted in ``subscriber_missed`` and announced to it as an SSE comment);
a client that takes no data for ``write_timeout`` seconds is disconnected (``slow_disconnects``).

Endpoints (GET only; files only from the fleet's snapshot and clip folders):

* ``/events``: Server-Sent Events: ``id:`` the CloudEvents id, ``event:`` the type, ``data:`` the
  event JSON; a ``: keepalive`` comment every ``heartbeat`` seconds;
* ``/ws``: WebSocket, one JSON text message per event (client messages are ignored);
* filters for both: ``type`` (repeatable or comma-separated; ``speech`` or ``streamfuse.speech``),
  ``min_confidence``, ``q`` (text query, at most 256 characters), ``threshold`` (for ``q``), ``since``
  (an event id; replay what follows it; an id no longer retained replays everything retained);
* ``/health``: JSON status; ``/metrics``: Prometheus text format;
* ``/media/<camera>/<file>``: a camera's event snapshot (``.jpg``) or clip (``.mp4``/``.mkv``), as
  named in the events' evidence; only plain files directly inside that camera's folders
  (:attr:`EventServer.media_folders`), 404 for anything else.

Safety: binds loopback unless told otherwise; any other address needs a bearer token (``token`` or
``$STREAMFUSE_TOKEN``), checked on every request with a constant-time compare (401 otherwise);
at most ``max_subscribers`` subscribers (503 past it); request bodies at most 4 KiB, request lines
and header fields at most 8190 bytes (aiohttp's bounds; 400 past them). Under load (see
:mod:`.guard`): at most ``max_connections`` open connections and ``max_per_client`` from one address
(503, closed unread); at most ``request_rate`` requests a second per address, in bursts of
``request_burst`` (429); a connection that has not sent a complete request ``header_timeout``
seconds after it opened, or after its last response, is closed (slow or idle clients). Every
rejected request or connection is one log line, at most 10 every 10 s; client mistakes never log a
traceback.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import re
import json
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Mapping, Sequence

from aiohttp import WSMsgType, web

from ..config.loader import env_token
from ..errors import ConfigError, StreamfuseError
from ..sinks.durable import DurableLog
from .filters import EventFilter
from .guard import ConnectionGuard, RateLimit, RejectionLog
from .matcher import MiniLMMatcher, TextMatcher, query_matches
from .metrics import Metrics

log = logging.getLogger("streamfuse.serve")
#: a file name ``/media`` serves: a snapshot or a clip, no separators, not hidden
SERVABLE = re.compile(r"^[A-Za-z0-9_-][A-Za-z0-9._-]{0,200}\.(jpg|mp4|mkv)$")

_SEND_ERRORS = (ConnectionError, RuntimeError)  # a client gone mid-write (aiohttp raises both)


def is_loopback(host: str) -> bool:
    """``127.0.0.1``, ``::1``, ``localhost``: yes; ``0.0.0.0``, ``::``, other names: no."""
    if host.lower() in ("localhost", "localhost."):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(eq=False)
class _Subscriber:
    kind: str
    cursor: int
    flt: EventFilter
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    gone: bool = False
    sent: int = 0
    missed: int = 0


class EventServer:
    """Serve events live over HTTP. Starts listening in the constructor; ``close()`` stops it."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8765, token: str | None = None,
                 log_dir: str | os.PathLike[str] | None = None, text_matcher: TextMatcher | None = None, *,
                 require_token: bool = False, max_subscribers: int = 64, max_log_events: int = 10_000,
                 max_log_bytes: int = 32 << 20, metrics: Metrics | None = None, heartbeat: float = 15.0,
                 write_timeout: float = 30.0, start_timeout: float = 10.0, max_connections: int = 512,
                 max_per_client: int | None = None, request_rate: float = 50.0, request_burst: int = 100,
                 header_timeout: float = 10.0, queries: Any = None) -> None:
        token = token or env_token()
        if token is None and (require_token or not is_loopback(host)):
            raise ConfigError(f"serving on {host} needs a bearer token: set STREAMFUSE_TOKEN or pass a token "
                              "(or bind 127.0.0.1)")
        if max_subscribers < 1 or heartbeat <= 0 or write_timeout <= 0:
            raise ConfigError("server: need max_subscribers >= 1, heartbeat > 0 and write_timeout > 0")
        if max_per_client is None:
            max_per_client = max_subscribers + 16  # one client may hold every subscription, and ask for more
        if max_connections < 1 or max_per_client < 1 or request_rate <= 0 or request_burst < 1 or header_timeout <= 0:
            raise ConfigError("server: need max_connections >= 1, max_per_client >= 1, request_rate > 0, "
                              "request_burst >= 1 and header_timeout > 0")
        self.max_connections = max_connections
        self.max_per_client = max_per_client
        self.header_timeout = header_timeout
        self._rejections = RejectionLog(log)
        self._rate = RateLimit(request_rate, request_burst)
        self._rate_limited = 0
        self._guard: ConnectionGuard | None = None
        self._listener: asyncio.AbstractServer | None = None
        self.name = "serve"
        self.host = host
        self.metrics = metrics or Metrics()
        self.max_subscribers = max_subscribers
        self.heartbeat = heartbeat
        self.write_timeout = write_timeout
        self._token = token.encode("utf-8") if token else None
        self._matcher = text_matcher
        #: live text queries scored against image embeddings (:class:`~streamfuse.match.live.LiveQueries`)
        self._queries = queries
        self._tmp_dir = None if log_dir is not None else tempfile.mkdtemp(prefix="streamfuse-serve-")
        self._log = DurableLog(Path(log_dir or self._tmp_dir), max_events=max_log_events,
                               max_bytes=max_log_bytes, retain_acked=True)
        self._subs: set[_Subscriber] = set()
        self._emitted = 0
        self._subscribers_total = 0
        self._missed = 0
        self._slow_disconnects = 0
        self._busy = 0
        self._auth_failures = 0
        self._last_id: str | None = None
        self._closed = False
        self._started_at = time.monotonic()
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="streamfuse-match")
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._ready = threading.Event()
        self._start_error: BaseException | None = None
        self.port = port
        self._thread = threading.Thread(target=self._serve, name="streamfuse-serve", daemon=True)
        self._thread.start()
        if not self._ready.wait(start_timeout):
            self._start_error = self._start_error or TimeoutError("server did not start")
        if self._start_error is not None:
            self._shutdown_thread()
            self._log.close()
            self._cleanup_tmp()
            if isinstance(self._start_error, StreamfuseError):
                raise self._start_error
            raise ConfigError(f"cannot serve on {host}:{port} ({self._start_error}); "
                              "choose another --serve address") from None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    # ---------------------------------------------------------------- EventSink
    def emit(self, event: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError("event server is closed")
        seq = self._log.append(event)
        if seq is not None:
            self._log.ack(seq)  # the log is a replay log: nothing waits for an acknowledgement
        self._emitted += 1
        self._last_id = event.get("id")
        self.metrics.count_event(event.get("type", "unknown"))
        try:
            self._loop.call_soon_threadsafe(self._notify)
        except RuntimeError:  # the loop stopped under us (closing)
            pass

    def flush(self, timeout: float | None = None) -> None:
        self._log.sync()

    def close(self, timeout: float = 5.0) -> None:
        if self._closed:
            return
        self._closed = True
        self._shutdown_thread(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._log.close()
        self._cleanup_tmp()

    def stats(self) -> dict[str, int | float]:
        log_stats = self._log.stats() if not self._closed else {"dropped": 0, "retained": 0}
        return {"emitted": self._emitted, "delivered": self._emitted, "backlog": 0,
                "dropped": log_stats["dropped"], "retained": log_stats["retained"],
                "subscribers": len(self._subs), "subscribers_total": self._subscribers_total,
                "subscriber_missed": self._missed, "slow_disconnects": self._slow_disconnects,
                "rejected_busy": self._busy,
                "auth_failures": self._auth_failures,
                "rejected_requests": self._rejections.count, "rate_limited": self._rate_limited,
                "rejected_connections": self._guard.rejected if self._guard else 0,
                "connections": self._guard.open if self._guard else 0}

    def __enter__(self) -> "EventServer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ---------------------------------------------------------------- loop thread
    def _serve(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._start())
        except BaseException as exc:  # noqa: BLE001 - reported to the constructor
            self._start_error = exc
            self._loop.close()
            self._ready.set()
            return
        self._ready.set()
        self._loop.run_forever()
        try:
            self._loop.run_until_complete(self._stop())
        finally:
            self._loop.close()

    async def _start(self) -> None:
        app = web.Application(middlewares=[self._bounds, self._auth], client_max_size=4096)
        app.router.add_get("/events", self._sse)
        app.router.add_get("/ws", self._ws)
        app.router.add_get("/health", self._health)
        app.router.add_get("/metrics", self._metrics)
        app.router.add_get("/media/{camera}/{name}", self._media)
        # keepalive_timeout is armed when a connection opens and after each response: it is the
        # header timeout for partial requests as well as the idle timeout
        self._runner = web.AppRunner(app, handler_cancellation=True, access_log=None, shutdown_timeout=2.0,
                                     keepalive_timeout=self.header_timeout, logger=self._rejections)
        await self._runner.setup()
        self._guard = ConnectionGuard(self._runner.server, self.max_connections, self.max_per_client,
                                      self._rejections)
        self._listener = await asyncio.get_running_loop().create_server(self._guard, self.host, self.port)
        self.port = self._listener.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        for sub in list(self._subs):
            sub.gone = True
            sub.wake.set()
        if self._listener is not None:
            self._listener.close()
        if self._runner is not None:
            await self._runner.cleanup()

    def _shutdown_thread(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            try:
                self._loop.call_soon_threadsafe(self._loop.stop)
            except RuntimeError:
                pass
            self._thread.join(timeout)

    def _cleanup_tmp(self) -> None:
        if self._tmp_dir is not None:
            shutil.rmtree(self._tmp_dir, ignore_errors=True)

    def _notify(self) -> None:
        for sub in self._subs:
            sub.wake.set()

    # ---------------------------------------------------------------- HTTP
    @web.middleware
    async def _bounds(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        """The per-client request rate (429 past it), and one log line for every rejected request."""
        peer = request.remote
        what = f"{request.method} {_printable(request.path)}"
        if not self._rate.allow(peer or ""):
            self._rate_limited += 1
            self._rejections.note(f"{what} (429: more than {self._rate.rate:g} requests a second)", peer)
            raise web.HTTPTooManyRequests(text="too many requests; slow down\n", headers={"Retry-After": "1"})
        try:
            return await handler(request)
        except web.HTTPException as exc:
            if exc.status >= 400:
                text = exc.text if exc.text and not exc.text.startswith(str(exc.status)) else exc.reason
                self._rejections.note(f"{what} ({exc.status}: {_printable(text)})", peer)
            raise

    @web.middleware
    async def _auth(self, request: web.Request, handler: Callable[[web.Request], Awaitable[Any]]) -> Any:
        if self._token is not None:
            scheme, _, value = request.headers.get("Authorization", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode("utf-8"), self._token):
                self._auth_failures += 1
                raise web.HTTPUnauthorized(text="missing or wrong bearer token\n",
                                           headers={"WWW-Authenticate": 'Bearer realm="streamfuse"'})
        return await handler(request)

    def _subscriber(self, request: web.Request, kind: str) -> tuple[_Subscriber, str | None]:
        query = request.query
        try:
            flt = EventFilter.build(query.getall("type", None), query.get("min_confidence"), query.get("q"),
                                    query.get("threshold"))
        except ConfigError as exc:
            raise web.HTTPBadRequest(text=f"{exc}\n") from None
        if len(self._subs) >= self.max_subscribers:
            self._busy += 1
            raise web.HTTPServiceUnavailable(text=f"too many subscribers (at most {self.max_subscribers}); "
                                                  "try again later\n", headers={"Retry-After": "5"})
        since = request.headers.get("Last-Event-ID") or query.get("since") or None
        notice = None
        if since is None:
            cursor = self._log.last_seq
        else:
            seq = self._log.seq_of(since)
            if seq is None:
                cursor = self._log.first_seq - 1
                notice = f"event {since[:64]!r} is not retained; replaying all retained events"
            else:
                cursor = seq
        sub = _Subscriber(kind, cursor, flt)
        if self._queries is not None and flt.query is not None:
            self._queries.add(flt.query)
        self._subs.add(sub)
        self._subscribers_total += 1
        self.metrics.set_subscribers(len(self._subs))
        return sub, notice

    def _drop(self, sub: _Subscriber) -> None:
        if sub in self._subs and self._queries is not None and sub.flt.query is not None:
            self._queries.remove(sub.flt.query)
        self._subs.discard(sub)
        self.metrics.set_subscribers(len(self._subs))

    async def _sse(self, request: web.Request) -> web.StreamResponse:
        sub, notice = self._subscriber(request, "sse")
        try:
            await self._ready_matcher(sub.flt)
            response = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8",
                                                   "Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
            await response.prepare(request)
            await response.write(b"retry: 1000\n: streamfuse\n\n")
            if notice:
                await response.write(f": {notice}\n\n".encode())

            async def send(event: dict[str, Any]) -> None:
                await response.write(_sse_frame(event))

            async def comment(text: str) -> None:
                await response.write(f": {text}\n\n".encode())

            await self._pump(sub, send, comment)
        except (*_SEND_ERRORS, TimeoutError):
            pass
        finally:
            self._drop(sub)
        return response

    async def _ws(self, request: web.Request) -> web.WebSocketResponse:
        sub, notice = self._subscriber(request, "ws")
        ws = web.WebSocketResponse(heartbeat=self.heartbeat, max_msg_size=4096, timeout=1.0)  # close handshake
        reader: asyncio.Task | None = None
        try:
            await self._ready_matcher(sub.flt)
            await ws.prepare(request)
            reader = asyncio.ensure_future(self._ws_reader(ws, sub))

            async def send(event: dict[str, Any]) -> None:
                await ws.send_str(json.dumps(event, separators=(",", ":"), ensure_ascii=False))

            await self._pump(sub, send, None)
        except (*_SEND_ERRORS, TimeoutError):
            pass
        finally:
            self._drop(sub)
            if reader is not None:
                reader.cancel()
                try:
                    await reader
                except BaseException:  # noqa: BLE001 - cancelled or failed: done either way
                    pass
            if ws.prepared and not ws.closed:  # not prepared: a bad handshake, answered with its 400
                await ws.close()
        return ws

    async def _ws_reader(self, ws: web.WebSocketResponse, sub: _Subscriber) -> None:
        try:
            async for msg in ws:
                if msg.type in (WSMsgType.ERROR, WSMsgType.CLOSE):
                    break
        finally:
            sub.gone = True
            sub.wake.set()

    async def _pump(self, sub: _Subscriber, send: Callable[[dict[str, Any]], Awaitable[None]],
                    comment: Callable[[str], Awaitable[None]] | None) -> None:
        """Send the events after ``sub.cursor`` that pass its filter, then follow the log. A write
        that the client does not take within ``write_timeout`` ends the subscription (counted in
        ``slow_disconnects``): a client that stopped reading cannot hold a slot for ever."""

        async def write(fn: Callable[[Any], Awaitable[None]], arg: Any) -> None:
            try:
                async with asyncio.timeout(self.write_timeout):
                    await fn(arg)
            except TimeoutError:
                self._slow_disconnects += 1
                raise

        while not sub.gone and not self._closed:
            sub.wake.clear()
            records = self._log.read(after=sub.cursor, limit=256)
            if not records:
                try:
                    async with asyncio.timeout(self.heartbeat):
                        await sub.wake.wait()
                except TimeoutError:
                    if comment is not None:
                        await write(comment, "keepalive")
                continue
            missed = records[0].seq - sub.cursor - 1
            if missed > 0:
                sub.missed += missed
                self._missed += missed
                if comment is not None:
                    await write(comment, f"missed {missed} events: this subscriber fell behind the retained log")
            for record in records:
                sub.cursor = record.seq
                if await self._matches(sub.flt, record.event):
                    await write(send, record.event)
                    sub.sent += 1

    async def _ready_matcher(self, flt: EventFilter) -> None:
        """Load the text matcher (once) before a ``q`` subscription starts, so a model that cannot
        load is a clear 503 rather than a stream that silently ends."""
        if flt.query is None:
            return
        if self._matcher is None:
            self._matcher = MiniLMMatcher()
        try:
            await asyncio.get_running_loop().run_in_executor(self._pool, self._matcher.similarity, "warm", ["up"])
        except Exception as exc:  # noqa: BLE001 - any failure: the query cannot be served
            text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise web.HTTPServiceUnavailable(text=f"text queries are unavailable: {text}\n") from None

    async def _matches(self, flt: EventFilter, event: dict[str, Any]) -> bool:
        if not flt.matches_fields(event):
            return False
        if event.get("type") == "streamfuse.query.match":  # scored already, for the query it names
            return flt.query is None or (event.get("data") or {}).get("label") == flt.query
        if flt.query is None:
            return True
        if self._matcher is None:
            self._matcher = MiniLMMatcher()
        return await asyncio.get_running_loop().run_in_executor(
            self._pool, query_matches, self._matcher, flt.query, flt.threshold, event)

    #: more ``/health`` keys, read at each request (``watch -c cameras.yaml`` adds ``cameras``)
    health_extra: Callable[[], dict[str, Any]] | None = None

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({
            "status": "closing" if self._closed else "ok",
            "uptime_s": round(time.monotonic() - self._started_at, 3),
            "subscribers": len(self._subs), "max_subscribers": self.max_subscribers,
            "events": self._emitted, "last_event_id": self._last_id,
            "log": self._log.stats(), "auth": self._token is not None,
            **(self.health_extra() if self.health_extra is not None else {}),
        })

    #: camera name -> the folders its snapshots and clips are in: the only files served (set by the fleet)
    media_folders: Mapping[str, Sequence[Path]] = {}

    async def _media(self, request: web.Request) -> web.StreamResponse:
        """A snapshot or clip: ``/media/<camera>/<file>``, only a plain file directly in one of that
        camera's folders (no sub-folders, no hidden files, no link leading out)."""
        camera, name = request.match_info["camera"], request.match_info["name"]
        if SERVABLE.match(name):
            for folder in self.media_folders.get(camera, ()):
                path = folder / name
                try:
                    real = path.resolve(strict=True)
                except OSError:
                    continue
                if real.parent == folder.resolve() and real.is_file():
                    return web.FileResponse(real, headers={"Cache-Control": "no-cache"})
        raise web.HTTPNotFound(text="no such snapshot or clip\n")

    async def _metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=self.metrics.render(), headers={"Content-Type": self.metrics.content_type})

    def _task_count(self) -> int:
        """How many asyncio tasks the server's loop holds (for leak tests)."""
        async def count() -> int:
            return len(asyncio.all_tasks())
        return asyncio.run_coroutine_threadsafe(count(), self._loop).result(5)


def _printable(text: str | None, limit: int = 80) -> str:
    """``text`` as it may go into one log line: control characters replaced, at most ``limit`` long."""
    text = " ".join(str(text or "").split())
    return "".join(c if c.isprintable() else "?" for c in text[:limit]) + ("..." if len(text) > limit else "")


def _sse_frame(event: dict[str, Any]) -> bytes:
    event_id = "".join(c for c in str(event.get("id", "")) if c not in "\r\n\0")
    event_type = "".join(c for c in str(event.get("type", "message")) if c not in "\r\n\0")
    data = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return f"id: {event_id}\nevent: {event_type}\ndata: {data}\n\n".encode("utf-8")
