"""Events of a batch run reach brokers (real Redis Streams and NATS JetStream on 127.0.0.1):
every event of every input, CloudEvents ids unique; a rerun sends nothing already delivered; a run
killed between sending and recording sends again with the same ids, which JetStream de-duplicates."""

from __future__ import annotations

import asyncio
import json
import socket
import sqlite3
import uuid

import pytest

from .conftest import DECODE_ONLY, cli, events, results

pytestmark = pytest.mark.timeout(300)

#: motion only: real events (motion, scene.cut) at decode-only cost
MOTION_ONLY = ["encoders.enabled=true", "runtime.source_worker=thread"] + [
    f"encoders.{k}.enabled=false" for k in ("faces", "objects", "people", "vad", "loudness", "sounds", "asr", "text")]


def _up(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _batch(sources, out, sinks):
    from streamfuse.archive.batch import run_batch
    from streamfuse.config.loader import load_config
    return run_batch(sources, load_config([], MOTION_ONLY, output={"directory": str(out)}), out, runtime="local",
                     sinks=sinks, index=False)


def _all_events(out):
    return [e for folder in results(out).values() for e in events(folder)]


def test_every_event_reaches_redis_and_nats_once_after_dedup_across_reruns(asl_dir, tmp_path):
    if not (_up(6379) and _up(4222)):
        pytest.skip("needs Redis on 6379 and NATS on 4222")
    import nats
    import redis

    from streamfuse.sinks.uri import open_sink
    from streamfuse.sources.resolve import resolve_inputs

    unique = uuid.uuid4().hex[:10]
    redis_uri = f"redis://127.0.0.1:6379/0?stream=sf-archive:{unique}"
    nats_uri = f"nats://127.0.0.1:4222/sfarchive.{unique}"
    stream = f"SFARCHIVE_{unique}".upper()

    def sinks():
        return [open_sink(redis_uri, buffer_root=str(tmp_path / "buffers")),
                open_sink(nats_uri, buffer_root=str(tmp_path / "buffers"))]

    def run(sources):
        opened = sinks()
        try:
            return _batch(sources, tmp_path / "out", opened)
        finally:
            for s in opened:
                s.close()

    async def nats_count() -> int:
        nc = await nats.connect("nats://127.0.0.1:4222")
        try:
            return (await nc.jetstream().stream_info(stream)).state.messages
        finally:
            await nc.close()

    r = redis.Redis()

    def redis_events() -> list[dict]:
        return [json.loads(fields[b"event"]) for _, fields in r.xrange(f"sf-archive:{unique}")]

    sources = resolve_inputs([str(asl_dir)])
    try:
        first = run(sources)
        expected = _all_events(tmp_path / "out")
        assert expected and first.exit_code == 0
        got = redis_events()
        assert sorted(e["id"] for e in got) == sorted(e["id"] for e in expected)
        assert asyncio.run(nats_count()) == len(expected)
        assert first.delivered == {s: len(expected) for s in first.delivered} and len(first.delivered) == 2

        # a rerun: every input already done and delivered, nothing is sent again
        second = run(sources)
        assert len(second.skipped) == len(sources) and second.delivered == {}
        assert r.xlen(f"sf-archive:{unique}") == len(expected)

        # a run killed after sending one input's events but before recording it: sent again, same ids
        name = sources[0].name
        db = sqlite3.connect(tmp_path / "out" / ".streamfuse" / "journal.sqlite")
        db.execute("DELETE FROM delivered WHERE name = ?", (name,))
        db.commit()
        db.close()
        third = run(sources)
        again = len(events(tmp_path / "out" / name))
        assert set(third.delivered.values()) == {again}
        got = redis_events()
        assert len(got) == len(expected) + again  # at-least-once: the re-sent ones are there twice ...
        assert {e["id"] for e in got} == {e["id"] for e in expected}  # ... with the same ids
        assert asyncio.run(nats_count()) == len(expected)  # JetStream dropped the duplicates by id
    finally:
        r.delete(f"sf-archive:{unique}")

        async def drop() -> None:
            nc = await nats.connect("nats://127.0.0.1:4222")
            try:
                await nc.jetstream().delete_stream(stream)
            finally:
                await nc.close()
        try:
            asyncio.run(drop())
        except Exception:  # noqa: BLE001 - nothing to clean
            pass


def test_analyze_takes_sink_uris_like_watch(asl_dir, tmp_path):
    out, sink = tmp_path / "out", tmp_path / "events.jsonl"
    proc = cli("analyze", str(asl_dir), "-o", str(out), "--sink", str(sink),
               *[a for s in MOTION_ONLY for a in ("--set", s)])
    assert proc.returncode == 0, proc.stderr
    sent = [json.loads(x) for x in sink.read_text().splitlines()]
    assert sent and sorted(e["id"] for e in sent) == sorted(e["id"] for e in _all_events(out))
    assert f"{len(sent)} events to file:events.jsonl" in proc.stderr
    bad = cli("analyze", str(asl_dir), "-o", str(out), "--sink", "gopher://x", *DECODE_ONLY)
    assert bad.returncode == 2 and "unsupported sink scheme" in bad.stderr and "Traceback" not in bad.stderr
