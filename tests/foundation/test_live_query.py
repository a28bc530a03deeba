"""Live ``q=`` subscriptions scored against pictures: ``query.match`` events from the image-text
path, calibrated on the feed's running score distribution, delivered to the query's subscribers.

The tiny random CLIP cannot tie words to pictures, so the query here is embedded as a picture
(what ``match --image`` does): windows holding that picture are the true matches. The plumbing
(calibration, events, schema, delivery per query) is what is tested."""

from __future__ import annotations

import asyncio
import json
from fractions import Fraction

import aiohttp
import numpy as np

from streamfuse.client._sse import SseParser
from streamfuse.config import load_config
from streamfuse.decode.payloads import VideoFrame
from streamfuse.align.window import Window
from streamfuse.encode.foundation.image_text import ImageTextEncoder
from streamfuse.events import validate_event
from streamfuse.fuse.base import Fused
from streamfuse.fuse.records import encoder_embeddings
from streamfuse.match.live import LiveQueries, live_queries, window_hook
from streamfuse.serve import EventServer, KeywordMatcher

TARGET_WINDOWS = {14, 27}  # windows whose frames show the picture looked for


def _feed(n: int = 36):
    """Windows of one 2-frame-per-second feed: noise pictures, and the target picture in TARGET_WINDOWS."""
    rng = np.random.default_rng(3)
    target = np.zeros((32, 32, 3), np.uint8)
    target[:, :16] = (255, 0, 0)
    step = Fraction(1, 2)
    for i in range(n):
        frames = []
        for j in range(2):
            t = i + j * step
            image = target if i in TARGET_WINDOWS else rng.integers(90, 110, (32, 32, 3), dtype=np.uint8)
            frames.append(VideoFrame(int(t * 2), step, t, step, image))
        yield Window("cam", i, Fraction(i), Fraction(i + 1), Fraction(i + 1), frames=tuple(frames), has_video=True), target


def _windows_through(encoder: ImageTextEncoder, hook):
    for window, _ in _feed():
        features = encoder(window)
        record = {"start": float(window.start), "end": float(window.end), "video": {"image_text": features.summary}}
        hook(window, Fused(record=record, embeddings=encoder_embeddings([features])), None)


def test_live_queries_load_the_configured_model_or_are_off(tiny_clip):
    assert live_queries(load_config()) is None
    queries = live_queries(load_config(sets=[f"models.image_text={tiny_clip}", "encoders.image_text.match_threshold=4"]))
    assert isinstance(queries, LiveQueries) and queries.threshold == 4.0


def test_a_q_subscription_gets_query_match_events_for_its_query_only(tiny_clip, tmp_path):
    config = load_config(sets=[f"models.image_text={tiny_clip}"])
    encoder = ImageTextEncoder(config.encoders.image_text)
    target = next(_feed())[1]
    by_picture = {"the red half": encoder.model.images([target])[0]}
    queries = LiveQueries(lambda texts: np.stack([by_picture.get(t, encoder.model.texts([t])[0]) for t in texts]))
    server = EventServer(port=0, log_dir=tmp_path / "log", text_matcher=KeywordMatcher(), queries=queries)

    async def main():
        async with aiohttp.ClientSession() as session:
            async with session.get(server.url + "/events", params={"q": "the red half"}) as mine, \
                    session.get(server.url + "/events", params={"q": "something else"}) as other:
                while len(queries.queries()) < 2:
                    await asyncio.sleep(0.05)
                await asyncio.get_running_loop().run_in_executor(None, _windows_through, encoder,
                                                                 window_hook(queries, server.emit))
                return await _read(mine, 10, 5.0), await _read(other, 10, 1.0)

    try:
        mine, other = asyncio.run(main())
    finally:
        server.close()
    assert mine, "no query.match event reached the subscriber"
    for event in mine:
        validate_event(event)
        assert event["type"] == "streamfuse.query.match" and event["data"]["label"] == "the red half"
        assert event["data"]["evidence"]["via"] == "image-text" and event["data"]["evidence"]["z"] >= 3
        assert event["data"]["start"] <= event["data"]["evidence"]["frame"] < event["data"]["end"]
    assert {int(e["data"]["start"]) for e in mine} == TARGET_WINDOWS
    assert all(e["data"]["label"] == "something else" for e in other)
    assert queries.queries() == []  # both subscribers left: their queries went with them


async def _read(response, n: int, timeout: float) -> list[dict]:
    parser = SseParser()
    out: list[dict] = []

    async def run() -> None:
        while len(out) < n:
            chunk = await response.content.readany()
            if not chunk:
                return
            out.extend(json.loads(data) for _, _, data in parser.feed(chunk))

    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        pass
    return out


def test_audio_text_queries_match_the_windows_that_sound_like_them(tiny_clap):
    from streamfuse.decode.payloads import AudioClip
    from streamfuse.encode.foundation.audio_text import AudioTextEncoder

    encoder = AudioTextEncoder(load_config(sets=[f"models.audio_text={tiny_clap}"]).encoders.audio_text)
    rate = 16000
    t = np.arange(rate, dtype=np.float32) / rate
    tone = (0.5 * np.sin(2 * np.pi * 880 * t)).astype(np.float32)  # the sound looked for
    rng = np.random.default_rng(5)
    probe = Window("probe", 0, Fraction(0), Fraction(1), Fraction(1), audio=AudioClip(0, tone, rate), has_audio=True)
    by_sound = {"the tone": encoder(probe).embeddings["audio"]}  # tiny random CLAP: the query embedded as a sound
    queries = LiveQueries(None, embed_audio_text=lambda texts: np.stack([by_sound[x] for x in texts]))
    queries.add("the tone")
    events = []
    for i in range(30):
        samples = tone if i in TARGET_WINDOWS else (rng.standard_normal(rate) * 0.05).astype(np.float32)
        window = Window("mic", i, Fraction(i), Fraction(i + 1), Fraction(i + 1),
                        audio=AudioClip(i * rate, samples, rate), has_audio=True)
        features = encoder(window)
        record = {"start": float(window.start), "end": float(window.end)}
        events += queries.observe("mic", record, encoder_embeddings([features]))
    assert {int(e["data"]["start"]) for e in events} == TARGET_WINDOWS
    for e in events:
        validate_event(e)
        assert e["data"]["evidence"]["via"] == "audio-text" and e["data"]["modalities"] == ["audio"]
        assert "frame" not in e["data"]["evidence"]
