"""Stopping a live run loses nothing: speech in progress at the stop is still transcribed."""

from __future__ import annotations

import time

from streamfuse.encode.base import BaseEncoder
from streamfuse.spec import StageSection, StageSpec
from streamfuse.testing.live_feed import LOOP

from .conftest import ListSink, running


class _Recorder(BaseEncoder):
    """Remembers the index and ``final`` flag of every window it is given."""

    spec = StageSpec(key="recorder", config=StageSection, modality="video")

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []

    def __call__(self, window):
        self.seen.append((window.index, window.final))
        return self.empty()


def test_a_stopped_live_run_ends_with_exactly_one_final_window(feed):
    """What lets every encoder flush what it holds (an utterance, a pending cut) when a run stops."""
    f = feed("tcp")
    recorder = _Recorder()
    with running(f.url, encoders=[recorder]):
        deadline = time.monotonic() + 30
        while len(recorder.seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
    finals = [i for i, final in recorder.seen if final]
    assert len(recorder.seen) >= 3 and finals == [recorder.seen[-1][0]]

#: speech recognition on (the live tests' defaults turn it off), nothing else that costs time
ASR_ONLY = ("encoders.asr.enabled=true", "encoders.motion.enabled=false", "encoders.vad.enabled=false",
            "encoders.loudness.enabled=false", "encoders.faces.enabled=false")
SPEECH_AT = 0.5  # seconds into each loop; "go forward ten meters" lasts 2.8 s, then 2 s of silence


def test_speech_in_progress_when_a_live_run_stops_is_transcribed(feed, media):
    f = feed("tcp", speech=str(media / "speech" / "goforward.wav"), speech_at=SPEECH_AT)
    sink = ListSink()
    with running(f.url, sets=ASR_ONLY, sinks=[sink]):
        # a whole sentence first (the connection may join mid-sentence: wait for any transcript)
        assert sink.wait_for(lambda events: any(e["type"] == "streamfuse.transcript" for e in events), 60)
        first = sink.of("transcript")[0]
        # then stop 1.4 s into the next sentence, by the feed's clock: it started at f.started_at
        loop = float(LOOP)
        now = time.monotonic()
        n = int((now + 0.5 - f.started_at - SPEECH_AT) // loop) + 1
        stop_at = f.started_at + n * loop + SPEECH_AT + 1.4
        time.sleep(max(0.0, stop_at - time.monotonic()))
    transcripts = sink.of("transcript")
    last = transcripts[-1]
    assert last is not first and last["data"]["start"] > first["data"]["start"] + 3, [
        (e["data"]["start"], e["data"]["text"]) for e in transcripts]
    assert "go" in last["data"]["text"].lower()
    assert last["data"]["end"] - last["data"]["start"] < 2.4  # cut at the stop, before the sentence ended
    ends = [e for e in sink.events if e["data"]["phase"] == "end"]
    assert all(e["data"]["end"] <= last["data"]["end"] + 2.5 for e in ends)


class _BrokenSink(ListSink):
    name = "broken"

    def emit(self, event) -> None:
        raise ConnectionError("the broker is down")


def test_a_failing_sink_is_counted_and_the_others_get_everything(feed):
    from streamfuse.serve.metrics import Metrics

    f = feed("tcp")
    good, bad, metrics = ListSink(), _BrokenSink(), Metrics()
    with running(f.url, sinks=[bad, good], metrics=metrics) as run:
        assert good.wait_for(lambda events: len(events) >= 3, 30)
    assert run.stats.sink_failures["broken"] == len(good.events) > 0
    assert metrics.value("streamfuse_sink_failures_total", sink="broken") == len(good.events)
