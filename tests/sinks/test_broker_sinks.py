"""Every broker sink against the running broker: a subscriber (``streamfuse.subscribe``) gets every
event exactly once, in order; plus each broker's own conventions (topics, subjects, groups)."""

from __future__ import annotations

import asyncio
import json
import time

import paho.mqtt.client as mqtt
import pytest

from streamfuse.testing.events import take as collect
import redis

from streamfuse.serve import KeywordMatcher
from streamfuse.sinks.uri import open_sink
from streamfuse.client import subscribe

pytestmark = pytest.mark.timeout(60)

N = 300


def uris(kind: str, unique: str) -> tuple[str, str]:
    """(sink URI, subscriber URI) on the shared broker, in a namespace of this test's own."""
    if kind == "redis":
        uri = f"redis://127.0.0.1:6379/0?stream=sf-test:{unique}"
        return uri, uri
    if kind == "redis-group":
        uri = f"redis://127.0.0.1:6379/0?stream=sf-test:{unique}"
        return uri, uri + "&group=g1"
    if kind == "nats":
        uri = f"nats://127.0.0.1:4222/sftest.{unique}"
        return uri, uri
    if kind == "nats-durable":
        uri = f"nats://127.0.0.1:4222/sftest.{unique}"
        return uri, uri + "?durable=d1"
    uri = f"mqtt://127.0.0.1:1883/sftest/{unique}"
    return uri, uri




def cleanup(kind: str, unique: str) -> None:
    if kind == "mqtt":  # clear the retained availability message the sink left
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        client.connect("127.0.0.1", 1883)
        client.loop_start()
        client.publish(f"sftest/{unique}/available", b"", qos=1, retain=True).wait_for_publish(5)
        client.loop_stop()
        client.disconnect()
    elif kind.startswith("redis"):
        redis.Redis().delete(f"sf-test:{unique}")
    elif kind.startswith("nats"):
        import nats

        async def drop() -> None:
            nc = await nats.connect("nats://127.0.0.1:4222")
            try:
                await nc.jetstream().delete_stream(f"SFTEST_{unique}".upper())
            finally:
                await nc.close()
        asyncio.run(drop())


@pytest.mark.parametrize("kind", ["redis", "redis-group", "nats", "nats-durable", "mqtt"])
def test_every_event_exactly_once_in_order(kind, unique, need_shared, make_events, tmp_path):
    need_shared(kind.split("-")[0])
    sink_uri, sub_uri = uris(kind, unique)
    events = make_events(N, types=("speech", "scene.cut", "person"))
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer")

    async def main() -> tuple[list[dict], dict]:
        async with subscribe(sub_uri) as sub:
            for e in events:
                sink.emit(e)
            got = await collect(sub, N, 30)
            # nothing more arrives (no duplicates slipping through)
            extra = await collect(sub, 1, 0.5)
            return got + extra, sub.stats()

    try:
        got, sub_stats = asyncio.run(main())
        assert [e["id"] for e in got] == [e["id"] for e in events]
        assert got == events
        sink.flush(10)
        stats = sink.stats()
        assert stats["delivered"] == N and stats["backlog"] == 0 and stats["dropped"] == 0
        assert sub_stats["received"] == N
    finally:
        sink.close()
        cleanup(kind, unique)


@pytest.mark.parametrize("kind", ["redis", "nats"])
def test_since_replays_after_an_event_id(kind, unique, need_shared, make_events, tmp_path):
    need_shared(kind)
    sink_uri, sub_uri = uris(kind, unique)
    events = make_events(40)
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer")
    try:
        for e in events:
            sink.emit(e)
        assert sink.flush(10)

        async def main() -> list[dict]:
            async with subscribe(sub_uri, since=events[24]["id"]) as sub:
                return await collect(sub, 15, 10)
        assert [e["id"] for e in asyncio.run(main())] == [e["id"] for e in events[25:]]
    finally:
        sink.close()
        cleanup(kind, unique)


def test_type_filter_on_a_broker(unique, need_shared, make_events, tmp_path):
    need_shared("nats")
    sink_uri, sub_uri = uris("nats", unique)
    events = make_events(30, types=("speech", "scene.cut", "person"))
    want = [e["id"] for e in events if e["type"] == "streamfuse.scene.cut" and e["data"]["confidence"] >= 0.5]
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer")
    try:
        async def main() -> list[dict]:
            async with subscribe(sub_uri, types=["scene.cut"], min_confidence=0.5) as sub:
                for e in events:
                    sink.emit(e)
                got = await collect(sub, len(want), 10)
                return got + await collect(sub, 1, 0.5)
        assert [e["id"] for e in asyncio.run(main())] == want
    finally:
        sink.close()
        cleanup("nats", unique)


def test_text_query_on_a_broker_runs_in_the_client(unique, need_shared, make_events, tmp_path):
    need_shared("redis")
    sink_uri, sub_uri = uris("redis", unique)
    events = make_events(30)
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer")
    try:
        async def main() -> list[dict]:
            async with subscribe(sub_uri, query="number 7", matcher=KeywordMatcher(threshold=1.0)) as sub:
                for e in events:
                    sink.emit(e)
                got = await collect(sub, 1, 10)
                return got + await collect(sub, 1, 0.5)
        assert [e["data"]["text"] for e in asyncio.run(main())] == ["event number 7"]
    finally:
        sink.close()
        cleanup("redis", unique)


def test_mqtt_topics_and_availability(unique, need_shared, make_events, tmp_path):
    need_shared("mqtt")
    prefix = f"sftest/{unique}"
    received: dict[str, list[bytes]] = {}

    def on_message(client, userdata, message):
        received.setdefault(message.topic, []).append(message.payload)

    watcher = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    watcher.on_message = on_message
    watcher.connect("127.0.0.1", 1883)
    watcher.subscribe(f"{prefix}/#", qos=1)
    watcher.loop_start()
    try:
        time.sleep(0.3)
        sink = open_sink(f"mqtt://127.0.0.1:1883/{prefix}", buffer_dir=tmp_path / "buffer")
        for e in make_events(4, types=("speech", "scene.cut")):
            sink.emit(e)
        assert sink.flush(10)
        time.sleep(0.3)
        assert received[f"{prefix}/available"][-1] == b"online"
        assert len(received[f"{prefix}/events"]) == 4
        assert [json.loads(p)["id"] for p in received[f"{prefix}/cam1/speech"]] == ["cam1-00000000", "cam1-00000002"]
        assert len(received[f"{prefix}/cam1/scene.cut"]) == 2
        sink.close()
        time.sleep(0.3)
        assert received[f"{prefix}/available"][-1] == b"offline"
    finally:
        watcher.publish(f"{prefix}/available", b"", retain=True, qos=1).wait_for_publish(5)  # clear it
        watcher.loop_stop()
        watcher.disconnect()


def test_redis_entries_are_readable_by_any_client(unique, need_shared, make_events, tmp_path):
    need_shared("redis")
    sink_uri, _ = uris("redis", unique)
    sink = open_sink(sink_uri, buffer_dir=tmp_path / "buffer")
    try:
        events = make_events(3)
        for e in events:
            sink.emit(e)
        assert sink.flush(10)
        entries = redis.Redis().xrange(f"sf-test:{unique}")
        assert [json.loads(fields[b"event"]) for _, fields in entries] == events
    finally:
        sink.close()
        cleanup("redis", unique)
