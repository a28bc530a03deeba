"""Configuration of the live event server (``streamfuse watch --serve``): the bounds that keep it up
under bad, slow and too many clients (see :mod:`streamfuse.serve.guard`).

Keys live under ``serve.`` (``--set serve.max_connections=128``). Config keys are public API.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Section, bounded


@dataclass(frozen=True)
class ServeConfig(Section):
    """Bounds of the event server. A connection past ``max_connections`` (or ``max_per_client`` from
    one address) gets a 503 before a byte of it is read; a client past ``request_rate`` requests a
    second (bursts of ``request_burst``) gets a 429; a request whose headers have not arrived within
    ``header_timeout`` seconds is closed; a subscriber that takes no data for ``write_timeout``
    seconds is dropped. Rejections are logged at most ten lines per ten seconds.
    """

    max_subscribers: int = bounded(64, 1, 100_000, doc="live subscriptions (SSE and WebSocket) at once")
    max_connections: int = bounded(512, 1, 1_000_000, doc="open connections at once, all clients together")
    max_per_client: int | None = bounded(None, 1, 1_000_000,
                                         doc="open connections from one address (unset: max_subscribers + 16)")
    request_rate: float = bounded(50.0, 0.0, 1e6, lo_open=True, doc="requests a second one address may make")
    request_burst: int = bounded(100, 1, 1_000_000, doc="requests one address may make in a burst")
    header_timeout: float = bounded(10.0, 0.0, 3600.0, lo_open=True,
                                    doc="seconds a client has to send a request's headers")
    write_timeout: float = bounded(30.0, 0.0, 3600.0, lo_open=True,
                                   doc="seconds a subscriber may take no data before it is dropped")
    heartbeat: float = bounded(15.0, 0.0, 3600.0, lo_open=True, doc="seconds between keep-alive comments")
