"""Event clips cut from the camera's own packets (no re-encoding), and snapshots and clips served by
the event server from the cameras' folders only."""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.request
from pathlib import Path

import av
import pytest

from streamfuse.errors import ConfigError
from streamfuse.fleet.clips import ClipsConfig
from streamfuse.fleet.config import camera
from streamfuse.fleet.runner import Fleet
from streamfuse.serve.server import EventServer

from .conftest import shared_data

PRE, POST = 1.0, 1.5


def _flashes(sink, name: str = "cam") -> list:
    return [e for e in sink.events if e["source"] == f"streamfuse://{name}" and e["type"] == "streamfuse.flash"]


def _annex_b(data: bytes) -> tuple[bytes, ...]:
    return tuple(n for n in re.split(b"\x00\x00\x00\x01|\x00\x00\x01", data) if n)


def _length_prefixed(data: bytes) -> tuple[bytes, ...]:
    out, i = [], 0
    while i < len(data):
        n = int.from_bytes(data[i:i + 4], "big")
        out.append(data[i + 4:i + 4 + n])
        i += 4 + n
    return tuple(out)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


def test_bad_clip_settings_are_one_line():
    for spec, needle in [({"pre": -1}, "clips.pre"), ({"types": ["motoin"]}, "'motoin' is not an event type"),
                         ({"max_files": 0}, "clips.max_files"), ({"length": 3}, "unknown config key 'clips.length'"),
                         ({"pre": 0, "post": 0}, "pre \\+ post")]:
        with pytest.raises(ConfigError, match=needle):
            ClipsConfig.parse(spec, "out")
    with pytest.raises(ConfigError, match="clips.dir"):
        ClipsConfig.parse(True, None)  # no folder of its own and no snapshots folder to share


def test_a_flash_gets_a_clip_of_the_feeds_own_packets_around_it_served_by_the_event_server(feed, list_sink, tmp_path):
    """A paced H.264 feed with a white flash at 1.0 s of every 4.8 s loop and a keyframe every 0.5 s.
    Each flash event asks for a clip from 1 s before to 1.5 s after it; the clip must hold the flash,
    span about 2.5 s, and consist of exactly the feed's packets (copied, not re-encoded)."""
    source = feed("tcp", codec="libx264", gop=12, flashes=(1.0,))
    media = tmp_path / "media"
    data = shared_data()
    cam = camera("cam", source.url, data, snapshots={"dir": str(media)},
                 clips={"pre": PRE, "post": POST, "types": ["flash", "motion"]})
    server = EventServer("127.0.0.1", 0)
    fleet = Fleet([server, list_sink], media_url=f"{server.url}/media")
    server.media_folders = fleet.media_folders
    try:
        fleet.start([cam])
        assert list_sink.wait_for(lambda _: len(_flashes(list_sink)) >= 3, 40)
        flash = _flashes(list_sink)[1]  # the first may come before PRE seconds of the feed have arrived
        clip = flash["data"]["evidence"]["clip"]
        assert clip["start"] == pytest.approx(flash["data"]["start"] - PRE) and clip["url"].endswith(".mp4")
        path = Path(clip["path"])
        assert path.parent == media / "cam"
        # written once the feed has delivered POST seconds past the flash (the next flash proves it has)
        assert path.is_file() and not list(path.parent.glob(".part-*"))
        status, body = _get(clip["url"])
        assert status == 200 and body == path.read_bytes()
        # only files directly in the camera's folders are served
        (tmp_path / "secret.jpg").write_bytes(b"x")
        base = clip["url"].rsplit("/", 2)[0]
        for bad in ("/cam/..%2Fsecret.jpg", "/cam/%2E%2E/secret.jpg", "/other/" + path.name, "/cam/.part-x.mp4",
                    "/cam/missing.mp4", "/cam/" + path.name.replace(".mp4", ".txt")):
            assert _get(base + bad)[0] == 404, bad
    finally:
        fleet.stop()
        server.close()

    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        assert stream.codec_context.name == "h264"
        packets = [bytes(p) for p in c.demux(stream) if p.size]
    with av.open(str(path)) as c:
        frames = [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    # the camera's coded pictures as they came: MP4 only frames each NAL unit by its length instead of
    # a start code (the feed is MPEG-TS, Annex B)
    loop_packets = {_annex_b(p.data) for p in source._loop.packets if p.video}
    assert packets and all(_length_prefixed(p) in loop_packets for p in packets)
    span = frames[-1][0] - frames[0][0]
    assert PRE + POST - 0.1 <= span <= PRE + POST + 0.5 + 0.1  # may begin up to a keyframe interval early
    bright = [t - frames[0][0] for t, img in frames if img.mean() > 200]
    assert bright and PRE - 0.05 <= bright[0] <= PRE + 0.5 + 0.05  # the flash, about PRE seconds in


def test_a_clip_whose_feed_drops_ends_at_the_drop_and_is_written_then(feed, list_sink, tmp_path):
    source = feed("tcp", codec="libx264", gop=12, flashes=(1.0,))
    post = 4.0  # longer than the feed will run past the flash
    cam = camera("cam", source.url, shared_data(), clips={"dir": str(tmp_path), "pre": 0.5, "post": post,
                                                          "types": ["flash"]})
    fleet = Fleet([list_sink])
    try:
        fleet.start([cam])
        assert list_sink.wait_for(lambda _: _flashes(list_sink), 30)
        source.stop()
        assert list_sink.wait_for(lambda evs: any(e["type"] == "streamfuse.source.lost" for e in evs), 10)
        clip = Path(_flashes(list_sink)[0]["data"]["evidence"]["clip"]["path"])
        deadline = time.monotonic() + 5
        while not clip.is_file() and time.monotonic() < deadline:  # written by the reader as the connection ends
            time.sleep(0.1)
        assert clip.is_file()
    finally:
        fleet.stop()
    with av.open(str(clip)) as c:
        times = [float(f.time) for f in c.decode(video=0)]
    assert 0.5 < times[-1] - times[0] < 0.5 + post - 0.5  # it holds what came before the drop, not post seconds
