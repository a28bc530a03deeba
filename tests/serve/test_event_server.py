"""The live server: SSE and WebSocket with filters, replay without duplicates, health, metrics."""

from __future__ import annotations

import asyncio
import io
import json
import threading
import time

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from streamfuse.serve import Metrics
from streamfuse.sinks.files import FileSink
from streamfuse.client import subscribe
from streamfuse.client.cli import run_subscribe_cli

pytestmark = pytest.mark.timeout(60)


def test_sse_live_events_with_filters(serve, make_events, sse_reader):
    server = serve()
    events = make_events(30)
    want = [e for e in events if e["type"] == "streamfuse.speech" and e["data"]["confidence"] >= 0.5]

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/events", params={"type": "speech", "min_confidence": "0.5"}) as r:
                assert r.status == 200 and r.headers["Content-Type"].startswith("text/event-stream")
                for e in events:
                    server.emit(e)
                got = await sse_reader(r, len(want))
                more = await sse_reader(r, 1, timeout=0.5)
                return got, more

    got, more = asyncio.run(main())
    assert [(i, t) for i, t, _ in got] == [(e["id"], e["type"]) for e in want]
    assert [json.loads(d) for _, _, d in got] == want
    assert more == []


def test_websocket_live_events_with_filters(serve, make_events):
    server = serve()
    events = make_events(30)
    want = [e for e in events if e["type"] in ("streamfuse.scene.cut", "streamfuse.person")]

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.ws_connect(f"{server.url}/ws?type=scene.cut&type=streamfuse.person") as ws:
                for e in events:
                    server.emit(e)
                got = [json.loads((await ws.receive(timeout=5)).data) for _ in want]
                with pytest.raises(asyncio.TimeoutError):
                    await ws.receive(timeout=0.3)
                return got

    assert asyncio.run(main()) == want


def test_replay_with_since_and_last_event_id_without_duplicates(serve, make_events, sse_reader):
    server = serve()
    events = make_events(30)
    for e in events[:20]:
        server.emit(e)

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/events", params={"since": events[9]["id"]}) as r:
                replayed = await sse_reader(r, 10)
                for e in events[20:25]:
                    server.emit(e)
                live = await sse_reader(r, 5)
            for e in events[25:]:
                server.emit(e)  # while we are away
            headers = {"Last-Event-ID": live[-1][0]}  # wins over ?since=
            async with session.get(f"{server.url}/events", params={"since": events[0]["id"]}, headers=headers) as r:
                resumed = await sse_reader(r, 5)
                more = await sse_reader(r, 1, timeout=0.3)
            async with session.ws_connect(f"{server.url}/ws?since={events[27]['id']}") as ws:
                ws_got = [json.loads((await ws.receive(timeout=5)).data)["id"] for _ in range(2)]
        return replayed, live, resumed, more, ws_got

    replayed, live, resumed, more, ws_got = asyncio.run(main())
    ids = [i for i, _, _ in replayed + live + resumed]
    assert ids == [e["id"] for e in events[10:]]
    assert more == []
    assert ws_got == [events[28]["id"], events[29]["id"]]


def test_since_an_id_no_longer_retained_replays_what_is(serve, make_events, sse_reader):
    server = serve(max_log_events=10)
    events = make_events(30)
    for e in events:
        server.emit(e)

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/events", params={"since": events[2]["id"]}) as r:
                return await sse_reader(r, 10)
    assert [i for i, _, _ in asyncio.run(main())] == [e["id"] for e in events[20:]]


def test_subscribe_client_reconnects_and_resumes_after_the_last_id(serve, make_events, tmp_path):
    log_dir = tmp_path / "shared-log"
    first = serve(log_dir=log_dir)
    port = first.port
    events = make_events(40)

    async def main():
        got = []
        async with subscribe(first.url, types=["speech", "scene.cut", "person"], max_retries=100) as sub:
            for e in events[:20]:
                first.emit(e)
            async for event in sub:
                got.append(event)
                if len(got) == 20:
                    break
            first.close()                       # the server goes away ...
            second = serve(log_dir=log_dir, port=port)   # ... and a new one takes its log and port
            for e in events[20:]:
                second.emit(e)
            async for event in sub:
                got.append(event)
                if len(got) == 40:
                    break
            return got, sub.stats()

    got, stats = asyncio.run(asyncio.wait_for(main(), 40))
    assert [e["id"] for e in got] == [e["id"] for e in events]
    assert stats["reconnects"] >= 1 and stats["duplicates"] == 0


def test_health_and_metrics(serve, make_events, tmp_path):
    metrics = Metrics()
    server = serve(metrics=metrics)
    for e in make_events(6):
        server.emit(e)
    metrics.count_frames(100)
    metrics.count_dropped_frames(3, reason="late")
    metrics.count_window(4)
    metrics.observe_latency(0.2)
    metrics.observe_latency(1.5)
    metrics.count_reconnect()
    sink = FileSink(tmp_path / "e.jsonl")
    metrics.watch_sink(sink)

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(f"{server.url}/health") as r:
                health = await r.json()
            async with session.get(f"{server.url}/metrics") as r:
                return health, r.headers["Content-Type"], await r.text()

    health, content_type, text = asyncio.run(main())
    sink.close()
    assert health["status"] == "ok" and health["events"] == 6 and health["subscribers"] == 0
    assert health["last_event_id"] == "cam1-00000005"
    assert content_type.startswith("text/plain")
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(text) for s in family.samples}
    assert samples[("streamfuse_frames_in_total", ())] == 100
    assert samples[("streamfuse_frames_dropped_total", (("reason", "late"),))] == 3
    assert samples[("streamfuse_windows_total", ())] == 4
    assert samples[("streamfuse_events_total", (("type", "speech"),))] == 2
    assert samples[("streamfuse_events_total", (("type", "scene.cut"),))] == 2
    assert samples[("streamfuse_event_latency_seconds_count", ())] == 2
    assert samples[("streamfuse_event_latency_seconds_bucket", (("le", "0.25"),))] == 1
    assert samples[("streamfuse_reconnects_total", ())] == 1
    assert samples[("streamfuse_sink_backlog", (("sink", "file:e.jsonl"),))] == 0
    assert samples[("streamfuse_subscribers", ())] == 0


def test_subscribe_cli_prints_json_lines(serve, make_events):
    server = serve()
    events = make_events(12)
    for e in events:
        server.emit(e)
    out, err = io.StringIO(), io.StringIO()
    code = run_subscribe_cli([server.url, "--type", "speech", "--since", events[0]["id"], "--limit", "3",
                              "--timeout", "10"], out=out, err=err)
    assert code == 0, err.getvalue()
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [e["id"] for e in lines] == [e["id"] for e in events[1:] if e["type"] == "streamfuse.speech"][:3]
    out = io.StringIO()
    assert run_subscribe_cli([server.url, "--timeout", "0.5"], out=out, err=err) == 0  # nothing new: stops
    assert out.getvalue() == ""


def test_sse_delivery_latency_on_loopback(serve, make_events, capsys):
    """Emit -> SSE client, in one process: p50 / p95 (printed, and bounded loosely)."""
    server = serve()
    events = make_events(200)
    sent: dict[str, float] = {}
    latencies: list[float] = []

    def producer():
        for e in events:
            sent[e["id"]] = time.perf_counter()
            server.emit(e)
            time.sleep(0.005)

    async def main():
        async with subscribe(server.url) as sub:
            thread = threading.Thread(target=producer)
            thread.start()
            async for event in sub:
                latencies.append(time.perf_counter() - sent[event["id"]])
                if len(latencies) == len(events):
                    break
            thread.join()

    asyncio.run(asyncio.wait_for(main(), 30))
    latencies.sort()
    p50, p95 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.95)]
    with capsys.disabled():
        print(f"\nSSE delivery latency on loopback: p50 {p50 * 1000:.2f} ms, p95 {p95 * 1000:.2f} ms")
    assert p95 < 0.25
