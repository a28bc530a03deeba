"""The live server under bad, slow and too many clients: every rejection is one log line (rate
limited, no traceback), slow and idle sockets are closed, connections and requests are bounded per
client, and a good subscriber keeps receiving every event through a flood of all of these."""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
import time

import aiohttp
import pytest

from streamfuse.client._sse import SseParser
from streamfuse.serve.guard import RejectionLog

pytestmark = pytest.mark.timeout(90)

FLOOD_HOST = "127.0.0.2"  # Linux routes all of 127/8 to loopback: the flood is another client


def raw_request(port: int, data: bytes, source: str = "127.0.0.1") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5, source_address=(source, 0)) as s:
        s.sendall(data)
        chunks = []
        try:
            while chunk := s.recv(4096):
                chunks.append(chunk)
        except (ConnectionResetError, TimeoutError):
            pass
        return b"".join(chunks)


def server_lines(caplog) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name.startswith(("streamfuse.serve", "aiohttp"))]


def test_malformed_requests_are_one_line_each_without_traceback(serve, caplog):
    server = serve()
    caplog.set_level(logging.INFO)
    long_query = b"GET /events?q=" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    big_header = b"GET /events HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n"
    for request in (long_query, big_header):
        assert raw_request(server.port, request).startswith(b"HTTP/1.0 400 Bad Request")
    records = server_lines(caplog)
    assert len(records) == 2, [r.getMessage() for r in records]
    for record in records:
        assert record.levelno == logging.WARNING and record.exc_info is None
        assert "rejected a malformed request (400" in record.getMessage()
        assert "\n" not in record.getMessage() and "aaaa" not in record.getMessage()
    assert server.stats()["rejected_requests"] == 2


def test_rejection_lines_are_rate_limited():
    records: list[str] = []

    class Sink(logging.Handler):
        def emit(self, record):
            records.append(record.getMessage())

    logger = logging.getLogger("test-rejections")
    logger.addHandler(Sink())
    logger.propagate = False
    now = [0.0]
    rejections = RejectionLog(logger, lines=10, period=10.0, clock=lambda: now[0])
    for i in range(1000):  # 1000 rejections within one period: 10 lines
        rejections.note(f"request {i}", "192.0.2.1")
    assert len(records) == 10 and rejections.count == 1000
    now[0] = 10.5  # the next period starts with a line saying what was left out
    rejections.note("one more", "192.0.2.1")
    assert records[10] == "990 more rejected requests were not logged"
    assert records[11] == "rejected one more from 192.0.2.1"


def test_slow_and_idle_sockets_are_closed_by_the_header_timeout(serve):
    server = serve(header_timeout=1.0)
    sockets = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(40)]
    idle = socket.create_connection(("127.0.0.1", server.port))  # never sends anything
    start = time.monotonic()
    closed = set()
    try:
        sockets[0].sendall(b"GET /events HTTP/1.1\r\n")
        while len(closed) < 41 and time.monotonic() - start < 8:
            for i, s in enumerate(sockets + [idle]):
                if i in closed:
                    continue
                try:
                    if s is not idle:
                        s.sendall(b"X-Slow: still typing\r\n")  # one header line at a time
                    s.setblocking(False)
                    if s.recv(1) == b"":
                        closed.add(i)
                except BlockingIOError:
                    pass
                except OSError:
                    closed.add(i)
                finally:
                    s.setblocking(True)
            time.sleep(0.3)
        elapsed = time.monotonic() - start
    finally:
        for s in sockets + [idle]:
            s.close()
    assert len(closed) == 41, f"{41 - len(closed)} slow sockets still open after {elapsed:.1f} s"
    assert elapsed < 4.0


def test_connections_and_requests_are_bounded_per_client(serve):
    server = serve(max_per_client=5, request_rate=2.0, request_burst=5)
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(5)]
    try:
        time.sleep(0.2)
        refused = raw_request(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert refused.startswith(b"HTTP/1.1 503") and b"Retry-After: 5" in refused
        other = raw_request(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                            source=FLOOD_HOST)
        assert other.startswith(b"HTTP/1.1 200")  # another client is not affected
    finally:
        for s in held:
            s.close()
    time.sleep(0.2)

    async def burst():
        async with aiohttp.ClientSession() as session:
            statuses = []
            for _ in range(8):
                async with session.get(server.url + "/health") as r:
                    statuses.append(r.status)
            return statuses

    statuses = asyncio.run(burst())
    assert statuses[:5] == [200] * 5 and set(statuses[5:]) == {429}
    stats = server.stats()
    assert stats["rejected_connections"] == 1 and stats["rate_limited"] == 3


def test_a_good_subscriber_receives_every_event_through_a_flood(serve, make_events, caplog):
    """While one client floods /events and /ws with malformed, oversized, slow, unauthorised-path and
    too-fast requests, a subscriber on another address gets every event, in order, once."""
    caplog.set_level(logging.INFO)
    server = serve(header_timeout=1.0, max_per_client=20, request_rate=20.0, request_burst=20)
    events = make_events(300)
    stop = threading.Event()
    sent = {"bad": 0, "slow": 0}

    def bad_requests():
        requests = [b"GET /events?q=" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                    b"GET /ws HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 100_000 + b"\r\n\r\n",
                    b"GET /events?type=explosion HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n",
                    b"DELETE /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 64,  # TLS to an HTTP port
                    b"GET /../../etc/passwd HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"]
        i = 0
        while not stop.is_set():
            try:
                raw_request(server.port, requests[i % len(requests)], source=FLOOD_HOST)
            except OSError:
                pass
            sent["bad"] += 1
            i += 1

    def slow_clients():
        held = []
        while not stop.is_set():
            try:
                s = socket.create_connection(("127.0.0.1", server.port), source_address=(FLOOD_HOST, 0))
                s.sendall(b"GET /events HTTP/1.1\r\n")
                held.append(s)
                sent["slow"] += 1
            except OSError:
                pass
            for s in held:
                try:
                    s.sendall(b"X-Slow: 1\r\n")
                except OSError:
                    pass
            time.sleep(0.1)
        for s in held:
            s.close()

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events") as sse:
                ws = await session.ws_connect(server.url + "/ws")
                flooders = [threading.Thread(target=bad_requests), threading.Thread(target=bad_requests),
                            threading.Thread(target=slow_clients)]
                for t in flooders:
                    t.start()
                await asyncio.sleep(0.5)

                def emit_all():
                    for e in events:
                        server.emit(e)
                        time.sleep(0.01)

                emitter = asyncio.create_task(asyncio.to_thread(emit_all))
                parser, got_sse, got_ws = SseParser(), [], []

                async def read_sse():
                    while len(got_sse) < len(events):
                        chunk = await sse.content.readany()
                        if not chunk:
                            return
                        got_sse.extend(i for i, _, _ in parser.feed(chunk))

                async def read_ws():
                    while len(got_ws) < len(events):
                        msg = await ws.receive()
                        if msg.type != aiohttp.WSMsgType.TEXT:
                            return
                        got_ws.append(msg.json()["id"])

                try:
                    await asyncio.wait_for(asyncio.gather(read_sse(), read_ws(), emitter), 45)
                finally:
                    stop.set()
                    for t in flooders:
                        t.join(10)
                    await ws.close()
                return got_sse, got_ws

    got_sse, got_ws = asyncio.run(main())
    ids = [e["id"] for e in events]
    assert got_sse == ids and got_ws == ids
    stats = server.stats()
    assert sent["bad"] > 30 and sent["slow"] > 10, sent
    assert stats["rejected_requests"] >= sent["bad"] // 2
    records = server_lines(caplog)
    assert all(r.exc_info is None and "Traceback" not in r.getMessage() for r in records)
    assert len(records) <= 10 * 10  # at most 10 lines every 10 s, however long the flood


def test_the_bounds_are_set_by_config_keys(serve):
    import dataclasses

    from streamfuse.config.loader import load_config

    config = load_config(sets=["serve.max_connections=3", "serve.max_per_client=3"])
    server = serve(**dataclasses.asdict(config.serve))
    held = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(3)]
    try:
        time.sleep(0.2)
        refused = raw_request(server.port, b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", source=FLOOD_HOST)
        assert refused.startswith(b"HTTP/1.1 503")  # the fourth connection, from another client too
    finally:
        for s in held:
            s.close()
