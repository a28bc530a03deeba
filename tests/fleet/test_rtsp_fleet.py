"""Four cameras from one real RTSP server, told apart by their tick rates; two cameras from it (Debian's gst-rtsp-server), one over TCP and one over UDP,
with a user and password: events flow under each camera's name, the server is stopped and started
again mid-stream, both reconnect with media time running on, and the password is nowhere.

Needs the system packages ``gir1.2-gst-rtsp-server-1.0 python3-gst-1.0 gstreamer1.0-plugins-good``
(skipped without them)."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from pathlib import Path

import av
import pytest

from streamfuse.fleet.config import camera
from streamfuse.fleet.runner import Fleet
from streamfuse.testing.process import stop_process

from .conftest import shared_data

SERVER = Path(__file__).resolve().parents[2] / "streamfuse" / "testing" / "rtsp_server.py"
SYSTEM_PYTHON = "/usr/bin/python3"


def _have_server() -> bool:
    try:
        return subprocess.run([SYSTEM_PYTHON, "-c", "import gi; gi.require_version('GstRtspServer', '1.0'); "
                               "from gi.repository import GstRtspServer"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


pytestmark = pytest.mark.skipif(not _have_server(), reason="needs gst-rtsp-server (apt: gir1.2-gst-rtsp-server-1.0 "
                                "python3-gst-1.0 gstreamer1.0-plugins-good)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(port: int) -> subprocess.Popen:
    proc = subprocess.Popen([SYSTEM_PYTHON, str(SERVER), str(port), "admin", "hunter2"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout.readline().strip() == "ready"
    return proc


_stop = stop_process


def test_two_rtsp_cameras_tcp_and_udp_with_a_password_survive_a_server_restart(list_sink, tmp_path):
    port = _free_port()
    server = _serve(port)
    url = f"rtsp://admin:hunter2@127.0.0.1:{port}"
    data = shared_data("live.stall_timeout=1.5")
    statuses: list = []
    fleet = Fleet([list_sink], on_status=lambda name, s: statuses.append((name, s)))

    def of(name: str, kind: str) -> list:
        return [e for e in list_sink.events if e["source"] == f"streamfuse://{name}" and e["type"] == f"streamfuse.{kind}"]

    try:
        # the TCP camera also keeps clips of its motion (Motion-JPEG over RTP, copied into the clip)
        fleet.start([camera("tcp-cam", {"url": f"{url}/cam1", "clips": {"dir": str(tmp_path), "pre": 1, "post": 1,
                                                                      "types": ["motion"]}}, data),
                     camera("udp-cam", {"url": f"{url}/cam2", "live": {"rtsp_transport": "udp"}}, data)])
        assert list_sink.wait_for(lambda _: of("tcp-cam", "motion") and of("udp-cam", "motion"), 30), statuses
        _stop(server)
        assert list_sink.wait_for(lambda _: of("tcp-cam", "source.lost") and of("udp-cam", "source.lost"), 15)
        lost_at = {n: of(n, "source.lost")[0]["data"]["start"] for n in ("tcp-cam", "udp-cam")}
        server = _serve(port)
        assert list_sink.wait_for(lambda _: len(of("tcp-cam", "source.connected")) >= 2
                                  and len(of("udp-cam", "source.connected")) >= 2, 30), statuses
        n_motion = {n: len(of(n, "motion")) for n in ("tcp-cam", "udp-cam")}
        assert list_sink.wait_for(lambda _: all(len(of(n, "motion")) > n_motion[n] for n in n_motion), 20)
        scrape = fleet.metrics.render().decode()
    finally:
        fleet.stop()
        _stop(server)
    for name in ("tcp-cam", "udp-cam"):
        again = of(name, "source.connected")[1]
        assert again["data"]["start"] >= lost_at[name]  # media time runs on across the reconnect
        assert max(e["data"]["end"] for e in of(name, "motion")) > lost_at[name]
    text = json.dumps(list_sink.events) + repr(statuses) + scrape
    assert "hunter2" not in text
    clips = sorted((tmp_path / "tcp-cam").iterdir())
    assert clips and all(c.suffix in (".mp4", ".mkv") for c in clips)
    with av.open(str(clips[0])) as c:
        assert c.streams.video[0].codec_context.name == "mjpeg"
        assert sum(1 for _ in c.decode(video=0)) >= 10  # 25 fps, at least a second of it


def test_four_rtsp_cameras_from_one_server_each_get_their_own_stream(list_sink):
    """cam1-cam4 tick at 25, 10, 5 and 2 frames a second: each camera's frame count over the same
    time must follow its own stream's rate (no camera is fed another's frames), and all report motion."""
    port = _free_port()
    server = _serve(port)
    sink = list_sink
    rates = {"cam1": 25, "cam2": 10, "cam3": 5, "cam4": 2}
    url = f"rtsp://admin:hunter2@127.0.0.1:{port}"
    fleet = Fleet([sink])
    try:
        # decode.fps=0: every frame is analysed, so the counts show the streams' own rates
        fleet.start([camera(f"view-{n}", f"{url}/{n}", shared_data("decode.fps=0")) for n in rates])
        assert sink.wait_for(lambda evs: {e["source"] for e in evs if e["type"] == "streamfuse.motion"}
                             == {f"streamfuse://view-{n}" for n in rates}, 40)
        before = {n: fleet.health()[f"view-{n}"]["frames_in"] for n in rates}
        t0 = time.monotonic()
        time.sleep(4.0)
        elapsed = time.monotonic() - t0
        after = {n: fleet.health()[f"view-{n}"]["frames_in"] for n in rates}
    finally:
        fleet.stop()
        _stop(server)
    for n, fps in rates.items():
        measured = (after[n] - before[n]) / elapsed
        assert 0.7 * fps <= measured <= 1.3 * fps + 1, (n, measured)
