"""Live-feed fixtures: a paced MPEG-TS feed on loopback, a list sink, a pipeline run on a thread.

Every fixture stops what it started (feeds, pipelines, servers), pass or fail.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import pytest

from streamfuse.config.loader import load_config
from streamfuse.runtime.live import LivePipeline
from streamfuse.sources.live import live_source
from streamfuse.testing.live_feed import LiveFeed

#: the cheap encoders only: motion (flashes, cuts, motion) and loudness (beeps, silence)
CHEAP = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
         "encoders.faces.enabled=false", "encoders.vad.enabled=false", "encoders.objects.enabled=false",
         "encoders.sounds.enabled=false")
#: quick reactions, so tests do not wait on defaults meant for real networks
QUICK = ("live.stall_timeout=1.5", "live.connect_timeout=3", "live.reconnect_initial=0.2",
         "live.reconnect_max=1")
#: this slow 2-core machine's allowance on top of a latency goal (seconds)
SLACK = 1.0


class ListSink:
    """An :class:`~streamfuse.sinks.base.EventSink` that keeps ``(time.monotonic(), event)`` pairs."""

    name = "list"

    def __init__(self) -> None:
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.lock = threading.Lock()

    def emit(self, event: dict[str, Any]) -> None:
        with self.lock:
            self.received.append((time.monotonic(), event))

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def stats(self) -> dict[str, int | float]:
        return {"emitted": len(self.received), "delivered": len(self.received), "backlog": 0, "dropped": 0}

    @property
    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [e for _, e in self.received]

    def of(self, short_type: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["type"] == f"streamfuse.{short_type}"]

    def wait_for(self, predicate: Callable[[list[dict[str, Any]]], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.events):
                return True
            time.sleep(0.05)
        return predicate(self.events)


def types(events: list[dict[str, Any]]) -> list[str]:
    return [e["type"].removeprefix("streamfuse.") for e in events]


def config(*sets: str):
    return load_config(sets=[*CHEAP, *QUICK, *sets])


@pytest.fixture
def feed() -> Iterator[Callable[..., LiveFeed]]:
    """``feed(transport="tcp", **kw)``: a started :class:`LiveFeed`, stopped at the end of the test."""
    feeds: list[LiveFeed] = []

    def make(transport: str = "tcp", **kw: Any) -> LiveFeed:
        f = LiveFeed(transport, **kw).start()
        feeds.append(f)
        return f

    yield make
    for f in feeds:
        f.stop()


class RunningPipeline:
    """A :class:`LivePipeline` running on a thread; ``finish()`` stops it and re-raises its error."""

    def __init__(self, pipeline: LivePipeline) -> None:
        self.pipeline = pipeline
        self.windows: list[tuple[float, Any, Any, float | None]] = []  # (emitted at, window, fused, latency)
        self.statuses: list[tuple[float, Any]] = []
        self.error: BaseException | None = None
        self.stats = None
        self.thread = threading.Thread(target=self._run, name="test-live-pipeline", daemon=True)

    def _run(self) -> None:
        try:
            self.stats = self.pipeline.run()
        except BaseException as exc:  # noqa: BLE001 - re-raised by finish()
            self.error = exc

    def finish(self, timeout: float = 30.0):
        self.pipeline.stop()
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise AssertionError("the live pipeline did not stop")
        if self.error is not None:
            raise self.error
        return self.stats


@contextmanager
def running(url: str, sets: tuple[str, ...] = (), sinks: list | None = None, **kw: Any) -> Iterator[RunningPipeline]:
    """Run a live pipeline on ``url`` (cheap encoders, quick reconnects) until the block ends."""
    holder: dict[str, RunningPipeline] = {}

    def on_window(window, fused, latency) -> None:
        holder["run"].windows.append((time.monotonic(), window, fused, latency))

    def on_status(status) -> None:
        holder["run"].statuses.append((time.monotonic(), status))

    pipeline = LivePipeline(live_source(url), config(*sets), sinks if sinks is not None else [],
                            on_window=on_window, on_status=on_status, **kw)
    run = RunningPipeline(pipeline)
    holder["run"] = run
    pipeline.open()
    run.thread.start()
    try:
        yield run
    finally:
        run.finish()


class SseCollector:
    """Subscribes to a live server's ``/events`` on a thread of its own; keeps ``(time.monotonic(),
    event)`` pairs. ``stop()`` cancels the subscription and joins the thread."""

    def __init__(self, url: str, event_types: list[str] | None = None) -> None:
        self.url = url
        self.event_types = event_types
        self.received: list[tuple[float, dict[str, Any]]] = []
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self._loop = asyncio.new_event_loop()
        self._task: asyncio.Task | None = None
        self._thread = threading.Thread(target=self._run, name="test-sse", daemon=True)
        self._thread.start()
        if not self._ready.wait(15) or self.error is not None:
            self.stop()
            raise AssertionError(f"could not subscribe to {url}: {self.error}")

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._task = self._loop.create_task(self._main())
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        except BaseException as exc:  # noqa: BLE001 - reported by the constructor or stop()
            self.error = exc
        finally:
            self._ready.set()
            self._loop.close()

    async def _main(self) -> None:
        from streamfuse.client import subscribe

        sub = subscribe(self.url, types=self.event_types)
        try:
            await sub.start()
            self._ready.set()
            async for event in sub:
                self.received.append((time.monotonic(), event))
        finally:
            await sub.aclose()

    def stop(self) -> None:
        if self._thread.is_alive() and self._task is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)
        self._thread.join(15)


class GarbageServer:
    """Listens on loopback TCP and sends random bytes to every client: a feed that is not media."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.sock.settimeout(0.1)
        self.url = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="test-garbage", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        clients = []
        while not self._stop.is_set():
            try:
                client, _ = self.sock.accept()
                client.settimeout(0.5)
                clients.append(client)
            except (TimeoutError, socket.timeout):
                pass
            for c in list(clients):
                try:
                    c.sendall(os.urandom(1 << 14))
                except OSError:
                    clients.remove(c)
                    c.close()
        for c in clients:
            c.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self.sock.close()


def run_cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamfuse", *args], capture_output=True, text=True,
                          timeout=timeout)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("streamfuse: error:"), proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]
