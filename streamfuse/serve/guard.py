"""Bounds that keep the live server up under bad, slow and too many clients.

* :class:`ConnectionGuard` wraps aiohttp's protocol factory: at most ``max_connections`` open
  connections, at most ``max_per_client`` from one address; a connection past either bound gets a
  ``503`` and is closed before aiohttp reads a byte of it. (The header timeout for partial or idle
  requests is aiohttp's own ``keepalive_timeout``, armed from the moment a connection opens.)
* :class:`RateLimit` is a token bucket per client address (``rate`` requests a second, bursts of
  ``burst``); the server answers ``429`` past it.
* :class:`RejectionLog` logs one line per rejected request or connection, at most ``lines`` lines
  per ``period`` seconds (then one line saying how many were not logged): a flood of bad requests
  can fill neither the log nor the disk. It is also the logger handed to aiohttp, so a malformed
  request (an over-long line, too many headers) is one line, not a traceback; errors of the
  server's own handlers keep their tracebacks.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from typing import Any, Callable

from aiohttp.http_exceptions import HttpProcessingError

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\n"
         b"Content-Type: text/plain\r\nContent-Length: 30\r\n\r\ntoo many connections; retry\r\n\r\n")


class RejectionLog:
    """One warning line per rejection, rate-limited; a stand-in for aiohttp's server logger."""

    def __init__(self, log: logging.Logger, lines: int = 10, period: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.lines = lines
        self.period = period
        self.clock = clock
        self.count = 0  # rejections noted, logged or not
        self._window = clock()
        self._logged = 0
        self._suppressed = 0

    def note(self, what: str, peer: str | None) -> None:
        """Log ``rejected <what> from <peer>`` unless this period's lines are used up."""
        self.count += 1
        now = self.clock()
        if now - self._window >= self.period:
            if self._suppressed:
                self.log.warning("%d more rejected requests were not logged", self._suppressed)
            self._window, self._logged, self._suppressed = now, 0, 0
        if self._logged < self.lines:
            self._logged += 1
            self.log.warning("rejected %s from %s", what, peer or "an unknown address")
        else:
            self._suppressed += 1

    # -- the logger interface aiohttp's RequestHandler uses ------------------------------------
    def exception(self, msg: str, *args: Any, exc_info: Any = None, **kw: Any) -> None:
        if isinstance(exc_info, HttpProcessingError):
            peer = args[0] if args else None
            # the reason only: the message goes on to echo the client's bytes
            detail = str(exc_info.message or type(exc_info).__name__).split(":")[0].strip()[:80]
            self.note(f"a malformed request ({exc_info.code}: {detail})", peer)
        else:
            self.log.error(msg, *args, exc_info=exc_info or True, **kw)

    def debug(self, msg: str, *args: Any, **kw: Any) -> None:
        self.log.debug(msg, *args, **kw)

    def isEnabledFor(self, level: int) -> bool:  # noqa: N802 - logging.Logger's name
        return self.log.isEnabledFor(level)


class RateLimit:
    """A token bucket per client address: ``rate`` requests a second, bursts of ``burst``."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = rate
        self.burst = burst
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # peer -> (tokens, when)

    def allow(self, peer: str) -> bool:
        now = self.clock()
        tokens, when = self._buckets.get(peer, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - when) * self.rate)
        if len(self._buckets) > 4096:  # forget clients whose buckets are full again
            self._buckets = {p: v for p, v in self._buckets.items()
                             if v[0] + (now - v[1]) * self.rate < self.burst}
        if tokens < 1.0:
            self._buckets[peer] = (tokens, now)
            return False
        self._buckets[peer] = (tokens - 1.0, now)
        return True


class _Guarded(asyncio.Protocol):
    """aiohttp's protocol for one connection, behind the guard's counts."""

    def __init__(self, guard: "ConnectionGuard", inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.peer: str | None = None
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        peername = transport.get_extra_info("peername")
        self.peer = peername[0] if isinstance(peername, tuple) and peername else None
        if not self.guard.admit(self.peer):
            if isinstance(transport, asyncio.WriteTransport):
                transport.write(_BUSY)
            transport.close()
            return
        self.admitted = True
        self.inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.admitted:
            self.admitted = False
            self.guard.release(self.peer)
            self.inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.admitted:
            self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.admitted else None

    def pause_writing(self) -> None:
        if self.admitted:
            self.inner.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.inner.resume_writing()


class ConnectionGuard:
    """A protocol factory around aiohttp's: counts open connections, in all and per client address,
    and turns away those past ``max_connections`` / ``max_per_client``."""

    def __init__(self, factory: Callable[[], asyncio.Protocol], max_connections: int, max_per_client: int,
                 rejections: RejectionLog) -> None:
        self.factory = factory
        self.max_connections = max_connections
        self.max_per_client = max_per_client
        self.rejections = rejections
        self.open = 0
        self.rejected = 0
        self._per_client: dict[str | None, int] = defaultdict(int)

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self, self.factory())

    def admit(self, peer: str | None) -> bool:
        if self.open >= self.max_connections:
            self.rejected += 1
            self.rejections.note(f"a connection (already {self.open} open, at most {self.max_connections})", peer)
            return False
        if self._per_client[peer] >= self.max_per_client:
            self.rejected += 1
            self.rejections.note(f"a connection ({self._per_client[peer]} open from this client, at most "
                                 f"{self.max_per_client})", peer)
            return False
        self.open += 1
        self._per_client[peer] += 1
        return True

    def release(self, peer: str | None) -> None:
        self.open -= 1
        self._per_client[peer] -= 1
        if self._per_client[peer] <= 0:
            del self._per_client[peer]
