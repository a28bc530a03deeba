"""What live inputs are accepted, how they are opened, and how reconnects are spaced."""

from __future__ import annotations

import shutil

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamfuse.config.live import LiveConfig
from streamfuse.config.loader import load_config
from streamfuse.errors import ConfigError, SourceNotFoundError, UnsupportedSourceError
from streamfuse.decode.live import LiveReader
from streamfuse.sources.live import input_options, live_source
from streamfuse.sources.resolve import Source


@pytest.mark.parametrize("url", [
    "rtsp://cam.local:554/stream", "rtmp://example.org/live/key",
    pytest.param("srt://127.0.0.1:9000", marks=pytest.mark.skipif(
        shutil.which("srt-live-transmit") is None, reason="srt:// needs srt-live-transmit (apt: srt-tools)")),
    "udp://127.0.0.1:1234", "tcp://127.0.0.1:1234", "https://example.org/live/index.m3u8",
])
def test_live_urls_become_live_sources(url):
    source = live_source(url)
    assert source.live and source.uri == url and source.id == live_source(url).id


@pytest.mark.parametrize("text, error", [
    ("clip.mp4", UnsupportedSourceError),
    ("file:///tmp/clip.mp4", UnsupportedSourceError),
    ("ftp://example.org/x", UnsupportedSourceError),
    ("/dev/video97", SourceNotFoundError),
])
def test_other_inputs_are_refused_with_a_hint(text, error, tmp_path):
    if text.startswith("file://"):
        (tmp_path / "clip.mp4").write_bytes(b"x")
        text = f"file://{tmp_path / 'clip.mp4'}"
    with pytest.raises(error) as info:
        live_source(text)
    assert "\n" not in str(info.value)


def test_credentials_never_reach_the_id_or_display():
    source = live_source("rtsp://admin:hunter2@cam.local/stream")
    assert "hunter2" not in source.id and "hunter2" not in source.display
    assert source.uri == "rtsp://admin:hunter2@cam.local/stream"  # FFmpeg still gets them


def test_an_srt_url_with_a_user_and_password_is_refused_with_a_hint():
    with pytest.raises(UnsupportedSourceError, match=r"\?passphrase=") as info:
        live_source("srt://admin:hunter2@cam.local:9000")
    assert "hunter2" not in str(info.value)


def test_input_options_are_low_latency_and_fit_the_scheme():
    live = LiveConfig()
    rtsp, fmt = input_options(live_source("rtsp://cam/s"), live)
    assert fmt is None
    assert rtsp["fflags"] == "nobuffer" and rtsp["flags"] == "low_delay"
    assert rtsp["rtsp_transport"] == "tcp" and rtsp["timeout"] == "5000000"
    assert int(rtsp["probesize"]) <= 1_000_000 and int(rtsp["analyzeduration"]) <= 1_000_000
    udp, _ = input_options(live_source("udp://127.0.0.1:1234"), live)
    assert udp["overrun_nonfatal"] == "1"
    srt, _ = input_options(Source(uri="srt://cam:9000?passphrase=x", id="cam", name="cam", live=True), live)
    assert srt["overrun_nonfatal"] == "1" and srt["localaddr"] == "127.0.0.1"  # its relay's UDP, loopback only
    hls, _ = input_options(live_source("https://example.org/a/index.m3u8"), live)
    assert hls["live_start_index"] == "-1"
    device = Source(uri="/dev/video0", id="video0", name="video0", live=True)
    opts, fmt = input_options(device, live)
    assert fmt == "v4l2" and "rtsp_transport" not in opts


def test_configured_options_and_format_win():
    live = LiveConfig(options={"fflags": "genpts", "buffer_size": 4096}, format="mpegts", low_latency=False,
                      rtsp_transport="udp")
    opts, fmt = input_options(live_source("rtsp://cam/s"), live)
    assert fmt == "mpegts" and opts["fflags"] == "genpts" and opts["buffer_size"] == "4096"
    assert opts["rtsp_transport"] == "udp" and "flags" not in opts


def test_live_config_keys_are_checked():
    config = load_config(sets=["live.stall_timeout=2", "live.max_retries=3", "live.queue_frames=10"])
    assert (config.live.stall_timeout, config.live.max_retries, config.live.queue_frames) == (2.0, 3, 10)
    assert load_config().live.max_retries is None  # retry forever by default
    with pytest.raises(ConfigError, match="reconnect_max"):
        load_config(sets=["live.reconnect_initial=5", "live.reconnect_max=1"])
    with pytest.raises(ConfigError, match="rtsp_transport"):
        load_config(sets=["live.rtsp_transport=carrier-pigeon"])
    with pytest.raises(ConfigError, match="options"):
        LiveConfig(options=["fflags"])
    with pytest.raises(ConfigError, match="unknown config key 'live.bogus'"):
        load_config(sets=["live.bogus=1"])


@given(failures=st.integers(0, 200), r=st.floats(0, 1, exclude_max=True),
       initial=st.floats(0, 10), cap=st.floats(0, 100), jitter=st.floats(0, 1))
def test_backoff_grows_exponentially_with_bounded_jitter_and_a_cap(failures, r, initial, cap, jitter):
    cap = max(cap, initial)
    live = LiveConfig(reconnect_initial=initial, reconnect_max=cap, reconnect_jitter=jitter)
    reader = LiveReader(live_source("tcp://127.0.0.1:9"), load_config().decode, live, rand=lambda: r)
    delay = reader.backoff(failures)
    nominal = min(cap, initial * 2.0 ** failures)
    assert 0 <= delay <= cap
    assert nominal * (1 - jitter) - 1e-9 <= delay <= min(cap, nominal * (1 + jitter)) + 1e-9
