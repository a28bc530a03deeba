"""Garbage on a live feed's port is a reported degradation, not a crash; garbage from the start is
a one-line error."""

from __future__ import annotations

import os
import socket
import time

import pytest

from streamfuse.errors import UserInputError
from streamfuse.events.cloudevents import validate_event
from streamfuse.runtime.live import LivePipeline
from streamfuse.sources.live import live_source

from .conftest import GarbageServer, ListSink, config, running, types


@pytest.mark.parametrize("transport", ["tcp", "udp"])
def test_garbage_mid_stream_is_reported_and_the_feed_goes_on(feed, transport):
    f = feed(transport)
    sink = ListSink()
    with running(f.url, sinks=[sink]) as run:
        assert sink.wait_for(lambda ev: "motion" in types(ev), 20), types(sink.events)
        before = len(sink.events)
        if transport == "tcp":
            for _ in range(20):  # random bytes inside the TS byte stream
                f.inject(os.urandom(8000))
                time.sleep(0.05)
        else:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:  # random datagrams to the port
                for _ in range(100):
                    s.sendto(os.urandom(1316), ("127.0.0.1", f.port))
                    time.sleep(0.01)
        done = len(sink.events)
        assert sink.wait_for(lambda ev: {"damaged", "source.lost"} & set(types(ev[before:])), 10), types(sink.events)
        # and media still flows afterwards: a flash (sent every 4.8 s) is seen again
        assert sink.wait_for(lambda ev: "flash" in types(ev[done:]), 15), types(sink.events[done:])
        assert run.thread.is_alive()
    for e in sink.events:
        validate_event(e)


def test_a_feed_that_sends_garbage_from_the_start_is_a_one_line_error():
    server = GarbageServer()
    try:
        pipeline = LivePipeline(live_source(server.url), config())
        with pytest.raises(UserInputError) as info:
            pipeline.open()
        message = str(info.value)
        assert "\n" not in message and server.url in message
    finally:
        server.close()
