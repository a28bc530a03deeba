"""Fixtures for the live server: events, servers that close themselves, and a raw SSE reader."""

from __future__ import annotations

import asyncio
from typing import Any, Callable

import aiohttp
import pytest

from streamfuse.testing.events import build_events as _build_events
from streamfuse.serve import EventServer, KeywordMatcher
from streamfuse.client._sse import SseParser


build_events = _build_events


@pytest.fixture
def make_events() -> Callable[..., list[dict[str, Any]]]:
    return build_events


@pytest.fixture
def serve(tmp_path):
    """``serve(**kwargs)`` -> a started :class:`EventServer` on a free loopback port (a cheap keyword
    matcher unless one is given); all are closed at the end."""
    servers: list[EventServer] = []

    def start(**kwargs: Any) -> EventServer:
        kwargs.setdefault("port", 0)
        kwargs.setdefault("log_dir", tmp_path / f"log{len(servers)}")
        kwargs.setdefault("text_matcher", KeywordMatcher())
        server = EventServer(**kwargs)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


async def read_sse(response: aiohttp.ClientResponse, n: int, timeout: float = 10.0) -> list[tuple[str, str, str]]:
    """The next ``n`` SSE events (id, event type, data) of an open ``/events`` response."""
    parser = SseParser()
    out: list[tuple[str, str, str]] = []

    async def run() -> None:
        while len(out) < n:
            chunk = await response.content.readany()
            if not chunk:
                return
            out.extend(parser.feed(chunk))
    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        pass
    return out


@pytest.fixture
def sse_reader():
    return read_sse
