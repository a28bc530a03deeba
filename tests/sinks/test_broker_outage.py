"""Broker outages, with broker processes of our own: stop the broker mid-stream, keep emitting,
restart it; every event arrives exactly once (after de-duplication) and in order, the buffer stays
within its bound, and what did not fit is counted, oldest first."""

from __future__ import annotations

import asyncio
import time
import uuid

import pytest

from streamfuse.testing.events import take

from streamfuse.sinks.uri import open_sink
from streamfuse.client import subscribe

pytestmark = pytest.mark.timeout(60)

SINK_OPTS = {"publish_timeout": 2.0, "backoff_max": 0.5, "close_timeout": 5.0}


def uris(b) -> tuple[str, str]:
    if b.kind == "redis":
        uri = b.uri("/0?stream=outage")
        return uri, uri
    if b.kind == "nats":
        uri = b.uri("/outage.events")
        return uri, uri
    uri = b.uri("/outage")
    # a persistent session: the broker keeps our subscription and queues for us across its restart
    return uri, uri + f"?client_id=sub-{uuid.uuid4().hex[:8]}"




def wait_until(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.mark.parametrize("kind", ["redis", "nats", "mqtt"])
def test_outage_within_the_bound_loses_nothing(kind, broker, make_events, tmp_path):
    b = broker(kind)
    sink_uri, sub_uri = uris(b)
    events = make_events(200)
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer", max_buffer_events=1000, **SINK_OPTS)

    async def main() -> list[dict]:
        async with subscribe(sub_uri, max_retries=1000) as sub:
            for e in events[:50]:
                sink.emit(e)
            got = await take(sub, 50, 15)
            assert len(got) == 50 and sink.flush(10)
            b.stop()                                  # the broker goes away mid-stream
            for e in events[50:150]:
                sink.emit(e)                          # emit never blocks: the buffer takes them
            assert wait_until(lambda: sink.stats()["retries"] > 0, 10)
            assert sink.stats()["backlog"] > 0 and sink.stats()["delivered"] == 50
            b.start()                                 # ... and comes back
            for e in events[150:]:
                sink.emit(e)
            got += await take(sub, 150, 40)
            got += await take(sub, 1, 0.5)           # and nothing twice
            return got

    try:
        got = asyncio.run(main())
        assert [e["id"] for e in got] == [e["id"] for e in events]
        assert sink.flush(5)
        stats = sink.stats()
        assert stats["delivered"] == 200 and stats["dropped"] == 0 and stats["backlog"] == 0
        assert stats["reconnects"] >= 1 and stats["retries"] >= 1
    finally:
        sink.close()


@pytest.mark.parametrize("kind", ["redis", "nats", "mqtt"])
def test_outage_beyond_the_bound_drops_oldest_and_counts(kind, broker, make_events, tmp_path):
    b = broker(kind)
    sink_uri, sub_uri = uris(b)
    events = make_events(140)
    bound = 30
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer", max_buffer_events=bound, **SINK_OPTS)

    async def main() -> list[dict]:
        async with subscribe(sub_uri, max_retries=1000) as sub:
            for e in events[:20]:
                sink.emit(e)
            got = await take(sub, 20, 15)
            assert sink.flush(10)                     # acknowledged, not just received
            b.stop()
            for e in events[20:120]:                  # 100 events while down: only 30 fit
                sink.emit(e)
                assert sink.stats()["backlog"] <= bound
            assert sink.stats()["dropped"] == 70
            b.start()
            assert sink.flush(20)                     # the 30 kept go out first
            for e in events[120:]:
                sink.emit(e)
            got += await take(sub, 50, 30)
            got += await take(sub, 1, 0.5)
            return got

    try:
        got = asyncio.run(main())
        kept = events[:20] + events[90:]              # the oldest of the outage were dropped
        assert [e["id"] for e in got] == [e["id"] for e in kept]
        stats = sink.stats()
        assert stats["dropped"] == 70 and stats["delivered"] == 70 and stats["backlog"] == 0
    finally:
        sink.close()


def test_buffer_outlives_the_process(broker, make_events, tmp_path):
    """Events buffered while the broker is down, then the sink closed: a new sink on the same buffer
    folder delivers them when the broker is back."""
    b = broker("redis")
    sink_uri, sub_uri = uris(b)
    events = make_events(30)
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer", **SINK_OPTS)
    b.stop()
    for e in events:
        sink.emit(e)
    sink.close(timeout=1.0)
    assert sink.stats()["backlog"] == 30
    b.start()

    async def main() -> list[dict]:
        async with subscribe(sub_uri, since="cam1-does-not-exist") as sub:  # from the stream's start
            again = open_sink(sink_uri, buffer_dir=tmp_path / "buffer", **SINK_OPTS)
            try:
                got = await take(sub, 30, 15)
                assert again.flush(5)
            finally:
                again.close()
            return got
    assert [e["id"] for e in asyncio.run(main())] == [e["id"] for e in events]
