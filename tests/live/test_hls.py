"""HLS over http(s): a playlist of MPEG-TS segments written with PyAV's hls muxer and served on
loopback, watched as a live feed. The flash in it must come out at its time."""

from __future__ import annotations

import functools
import http.server
import threading
from fractions import Fraction

import av
import numpy as np
import pytest

from .conftest import ListSink, running

FPS = 25
FLASH = Fraction(3, 2)  # seconds


def write_hls(folder, seconds: int = 4) -> None:
    with av.open(str(folder / "index.m3u8"), "w", format="hls",
                 options={"hls_time": "1", "hls_list_size": "0", "hls_playlist_type": "vod"}) as out:
        video = out.add_stream("mpeg2video", rate=FPS)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        video.codec_context.gop_size = FPS  # a keyframe every second, so segments cut cleanly
        for i in range(seconds * FPS):
            t = Fraction(i, FPS)
            grey = 235 if FLASH <= t < FLASH + Fraction(2, FPS) else 60
            image = np.full((240, 320, 3), grey, np.uint8)
            image[100:140, (i * 4) % 280:(i * 4) % 280 + 40] = (200, 40, 40)
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = i
            frame.time_base = Fraction(1, FPS)
            out.mux(video.encode(frame))
        out.mux(video.encode(None))


@pytest.mark.timeout(120)
def test_hls_playlist_over_http_is_watched(tmp_path):
    write_hls(tmp_path)
    assert (tmp_path / "index.m3u8").read_text().count(".ts") >= 3
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    sink = ListSink()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/index.m3u8"
        with running(url, ("decode.fps=0", "live.stall_timeout=5", "live.reconnect_initial=30",
                                  "live.reconnect_max=30"), sinks=[sink]):
            assert sink.wait_for(lambda events: any(e["type"] == "streamfuse.flash" for e in events), timeout=60)
    finally:
        server.shutdown()
        thread.join()
    (flash,) = sink.of("flash")
    assert abs(flash["data"]["start"] - float(FLASH)) <= 1 / FPS
    assert sink.of("source.connected")
