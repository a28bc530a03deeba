"""A camera published to a real RTMP server (nginx with libnginx-mod-rtmp), beside a loopback
camera: events flow, the server is stopped and started again mid-stream, the RTMP camera reconnects
with media time running on while the other camera never stops. The server lets players in only with
the stream's token, which never reaches an event, a status line, a log or a metric. Skipped without the packages
(apt: nginx-light libnginx-mod-rtmp)."""

from __future__ import annotations

import json
import time

import pytest

from streamfuse.fleet.config import camera
from streamfuse.fleet.runner import Fleet
from streamfuse.testing import rtmp

from .conftest import shared_data

pytestmark = pytest.mark.skipif(not rtmp.available(), reason="needs nginx with libnginx-mod-rtmp "
                                "(apt: nginx-light libnginx-mod-rtmp)")


def test_an_rtmp_camera_survives_a_server_restart_and_the_other_camera_never_stops(feed, list_sink, caplog):
    other = feed("tcp")
    server = rtmp.NginxRtmp(token="hunter2").start()
    url = f"rtmp://127.0.0.1:{server.port}/live/yard"
    publisher = rtmp.RtmpPublisher(url).start()
    statuses: list = []
    fleet = Fleet([list_sink], on_status=lambda name, s: statuses.append((name, s)))

    def of(name: str, kind: str) -> list:
        return [e for e in list_sink.events if e["source"] == f"streamfuse://{name}" and e["type"] == f"streamfuse.{kind}"]

    try:
        time.sleep(1.0)  # the publisher is on air
        data = shared_data("live.stall_timeout=2")
        fleet.start([camera("yard", f"{url}?token=hunter2", data), camera("hall", other.url, data),
                     camera("no-token", f"{url}?token=wrong", data)])
        assert list_sink.wait_for(lambda _: of("yard", "motion") and of("hall", "motion"), 30)
        server.stop()
        assert list_sink.wait_for(lambda _: of("yard", "source.lost"), 15)
        lost_at = of("yard", "source.lost")[0]["data"]["start"]
        hall_windows = fleet.health()["hall"]["windows"]
        server.start()
        assert list_sink.wait_for(lambda _: len(of("yard", "source.connected")) >= 2, 30)
        assert fleet.health()["hall"]["windows"] > hall_windows  # the other camera went on meanwhile
        n = len(of("yard", "motion"))
        assert list_sink.wait_for(lambda _: len(of("yard", "motion")) > n, 20)
        scrape = fleet.metrics.render().decode()
    finally:
        fleet.stop()
        publisher.stop()
        server.close()
    assert of("yard", "source.connected")[1]["data"]["start"] >= lost_at  # media time runs on
    assert not of("hall", "source.lost")
    assert server.refused >= 1 and not of("no-token", "motion")  # the token is checked, and a wrong one kept out
    text = json.dumps(list_sink.events) + repr(statuses) + scrape + caplog.text
    assert "hunter2" not in text
