"""A live feed that drops, stalls or never comes back: reconnects, status events, continuous time and ids."""

from __future__ import annotations

import time

import pytest

from streamfuse.errors import SourceUnreachableError
from streamfuse.events.cloudevents import validate_event
from streamfuse.runtime.live import LivePipeline
from streamfuse.decode.live import SourceLostError
from streamfuse.sources.live import live_source

from .conftest import SLACK, ListSink, config, running, types


def _seq(event) -> int:
    return int(event["id"].rsplit("-", 1)[1])


def _wall(sink: ListSink, event) -> float:
    return next(w for w, e in sink.received if e is event)


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_a_dropped_feed_reconnects_with_continuous_media_time_and_event_ids(feed, transport):
    f = feed(transport)
    sink = ListSink()
    with running(f.url, sinks=[sink]) as run:
        assert sink.wait_for(lambda ev: "motion" in types(ev), 20), types(sink.events)
        f.stop()
        assert sink.wait_for(lambda ev: "source.lost" in types(ev), 10), types(sink.events)
        time.sleep(0.3)
        f.start()
        restarted = time.monotonic()
        assert sink.wait_for(lambda ev: types(ev).count("source.connected") == 2, 15), types(sink.events)
        back = sink.of("source.connected")[1]
        # media keeps flowing after the reconnect: a new motion series starts
        assert sink.wait_for(lambda ev: any(e["type"] == "streamfuse.motion" and e["data"]["phase"] == "start"
                                            and _seq(e) > _seq(back) for e in ev), 15), types(sink.events)
    events = sink.events
    statuses = [t for t in types(events) if t.startswith("source.")]
    assert statuses == ["source.connected", "source.lost", "source.connected"]
    lost = sink.of("source.lost")[0]
    assert lost["data"]["evidence"]["reason"]
    assert back["data"]["evidence"]["outage_seconds"] > 0
    reconnect_seconds = _wall(sink, back) - restarted
    assert reconnect_seconds < 1.0 + 3.0 + SLACK  # reconnect_max + connect_timeout + slack

    # one source, one numbering: ids are unique and count up in emission order across the reconnect
    assert {e["source"] for e in events} == {f"streamfuse://{live_source(f.url).id}"}
    assert [_seq(e) for e in events] == list(range(1, len(events) + 1))
    for e in events:
        validate_event(e)

    # media time is monotonic: windows in order, the new connection starts where the lost one ended
    starts = [w.start for _, w, _, _ in run.windows]
    assert starts == sorted(set(starts))
    assert back["data"]["start"] >= lost["data"]["start"] > 0
    after = events[events.index(back) + 1:]
    assert all(e["data"]["start"] >= lost["data"]["start"] for e in after if e["data"]["phase"] in ("start", "instant"))

    # the motion series open when the feed dropped ended at the loss; every series that started has ended
    between = types(events[events.index(lost):events.index(back)])
    assert "motion" in between
    started = {e["data"]["event_id"] for e in events if e["data"]["phase"] == "start"}
    ended = {e["data"]["event_id"] for e in events if e["data"]["phase"] == "end"}
    assert started == ended


def test_a_stalled_feed_is_noticed_within_the_stall_timeout_and_reopened(feed):
    f = feed("tcp")
    sink = ListSink()
    with running(f.url, sinks=[sink]):
        assert sink.wait_for(lambda ev: "motion" in types(ev), 20), types(sink.events)
        f.hold()  # the connection stays open; nothing comes
        held = time.monotonic()
        assert sink.wait_for(lambda ev: "source.lost" in types(ev), 1.5 + 2 * SLACK), types(sink.events)
        lost = sink.of("source.lost")[0]
        assert "stalled" in lost["data"]["evidence"]["reason"]
        assert _wall(sink, lost) - held < 1.5 + 2 * SLACK
        f.release()
        assert sink.wait_for(lambda ev: types(ev).count("source.connected") == 2, 15), types(sink.events)


def test_a_feed_that_stays_down_is_given_up_after_max_retries(feed):
    f = feed("tcp")
    sink = ListSink()
    with pytest.raises(SourceLostError, match="attempts to reopen it failed"):
        with running(f.url, sets=("live.max_retries=2",), sinks=[sink]) as run:
            assert sink.wait_for(lambda ev: "motion" in types(ev), 20), types(sink.events)
            f.stop()
            run.thread.join(20)
            assert not run.thread.is_alive()
    assert [s.kind for _, s in run.statuses] == ["connected", "lost", "retry", "retry"]
    # the run still ended cleanly: open durative events have their end
    started = {e["data"]["event_id"] for e in sink.events if e["data"]["phase"] == "start"}
    ended = {e["data"]["event_id"] for e in sink.events if e["data"]["phase"] == "end"}
    assert started and started == ended


def test_a_feed_that_is_down_at_the_start_is_an_error_at_once():
    url = "tcp://127.0.0.1:9"  # discard port: nothing listens on loopback
    pipeline = LivePipeline(live_source(url), config())
    t0 = time.monotonic()
    with pytest.raises(SourceUnreachableError, match="cannot connect"):
        pipeline.open()
    assert time.monotonic() - t0 < 2.0


def test_wait_at_start_waits_for_a_feed_that_comes_up_later(feed):
    from streamfuse.testing.live_feed import LiveFeed

    f = LiveFeed("tcp")  # not started yet
    sink = ListSink()
    try:
        with running(f.url, sets=("live.wait_at_start=true",), sinks=[sink]) as run:
            time.sleep(1.0)
            assert [s.kind for _, s in run.statuses][:1] == ["retry"]
            f.start()
            assert sink.wait_for(lambda ev: "source.connected" in types(ev), 15), types(sink.events)
    finally:
        f.stop()
