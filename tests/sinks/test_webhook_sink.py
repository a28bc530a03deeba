"""The webhook sink against a local aiohttp receiver that fails on purpose."""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from aiohttp import web

from streamfuse.sinks.uri import open_sink

pytestmark = pytest.mark.timeout(60)


class Receiver:
    """An aiohttp app in a thread: answers ``statuses`` in turn (then 200), records what came."""

    def __init__(self, statuses: list[int], port: int) -> None:
        self.statuses = list(statuses)
        self.port = port
        self.requests: list[tuple[int, str, dict]] = []  # (status answered, content type, body)
        self._loop = asyncio.new_event_loop()
        self._started = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    async def _handle(self, request: web.Request) -> web.Response:
        status = self.statuses.pop(0) if self.statuses else 200
        self.requests.append((status, request.headers.get("Content-Type", ""), await request.json()))
        return web.Response(status=status, text="ok" if status == 200 else "no")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_post("/hook", self._handle)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.TCPSite(self._runner, "127.0.0.1", self.port).start())
        self._started.set()
        self._loop.run_forever()
        self._loop.run_until_complete(self._runner.cleanup())
        self._loop.close()

    def __enter__(self) -> "Receiver":
        self._thread.start()
        assert self._started.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    @property
    def delivered(self) -> list[dict]:
        return [body for status, _, body in self.requests if status == 200]


def test_retries_with_backoff_until_accepted(tmp_path, make_events, free_port):
    events = make_events(5)
    with Receiver([503, 500], free_port()) as rx:
        sink = open_sink(f"http://127.0.0.1:{rx.port}/hook", buffer_dir=tmp_path / "buffer",
                         backoff_initial=0.05, backoff_max=0.2)
        for e in events:
            sink.emit(e)
        assert sink.flush(10)
        sink.close()
    assert rx.delivered == events                           # all, in order, once
    assert [r[0] for r in rx.requests[:3]] == [503, 500, 200]  # the first event was tried three times
    assert {r[1] for r in rx.requests} == {"application/cloudevents+json"}
    stats = sink.stats()
    assert stats["retries"] == 2 and stats["delivered"] == 5 and stats["failed"] == 0


def test_rejected_and_given_up_events_are_counted(tmp_path, make_events, free_port):
    events = make_events(3)
    with Receiver([400, 500, 500, 500], free_port()) as rx:
        sink = open_sink(f"http://127.0.0.1:{rx.port}/hook", buffer_dir=tmp_path / "buffer",
                         backoff_initial=0.01, backoff_max=0.05, max_attempts=3)
        for e in events:
            sink.emit(e)
        assert sink.flush(10)
        sink.close()
    # event 0: 400, rejected at once; event 1: 500 three times, given up; event 2: accepted
    assert rx.delivered == events[2:]
    stats = sink.stats()
    assert stats["rejected"] == 1 and stats["failed"] == 1 and stats["delivered"] == 1


def test_receiver_down_then_up(tmp_path, make_events, free_port):
    port = free_port()
    events = make_events(10)
    sink = open_sink(f"http://127.0.0.1:{port}/hook", buffer_dir=tmp_path / "buffer",
                     backoff_initial=0.05, backoff_max=0.2)
    for e in events:
        sink.emit(e)
    assert not sink.flush(0.5)
    assert sink.stats()["backlog"] == 10 and sink.stats()["retries"] >= 1
    with Receiver([], port=port) as rx:
        assert sink.flush(10)
        sink.close()
    assert rx.delivered == events
    assert json.dumps(rx.delivered[0])  # plain JSON bodies
