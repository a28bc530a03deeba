"""Snapshots: the best frame of a real person's track, as a JPEG that decodes and shows them."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamfuse.config.loader import load_config
from streamfuse.errors import ConfigError
from streamfuse.fleet.snapshots import Snapshots, SnapshotsConfig

MEDIA = Path(__file__).resolve().parents[2] / ".." / "shared" / "media"


def test_bad_snapshot_settings_are_one_line():
    for spec, needle in [({"dir": "x", "max_files": 0}, "max_files"), ({"folder": "x"}, "expected a folder"),
                         ({"dir": "x", "colour": 1}, "unknown config key 'snapshots.colour'")]:
        with pytest.raises(ConfigError, match=needle):
            SnapshotsConfig.parse(spec)


def test_retention_keeps_the_newest_files(tmp_path):
    snaps = Snapshots(SnapshotsConfig(str(tmp_path), max_files=2), "cam")
    for i in range(3):
        snaps.see(float(i), np.full((8, 8, 3), 40 * i, np.uint8))
        snaps({"type": "streamfuse.object", "data": {"phase": "end", "event_id": f"cam-object-{i}",
                                                     "evidence": {"best_time": float(i), "best_box": [0, 0, 1, 1]}}})
    assert sorted(p.name for p in (tmp_path / "cam").iterdir()) == ["cam-object-1.jpg", "cam-object-2.jpg"]


@pytest.mark.skipif(not (MEDIA / "asl" / "again.mkv").is_file(), reason="needs ../shared/media")
def test_the_snapshot_of_a_real_person_decodes_and_shows_them_in_the_box(tmp_path):
    from streamfuse.runtime.source_stage import SourceStage
    from streamfuse.runtime.stages import EncodeStage, FuseStage
    from streamfuse.sources.resolve import resolve_inputs

    config = load_config(sets=[*(f"encoders.{k}.enabled=false" for k in
                                 ("asr", "text", "faces", "vad", "sounds", "loudness", "motion"))])
    source = resolve_inputs([str(MEDIA / "asl" / "again.mkv")])[0]
    snaps = Snapshots(SnapshotsConfig(str(tmp_path)), "cam")
    encode, fuse = EncodeStage(config.encoders), FuseStage(config, source)
    people, frames = [], {}
    try:
        for window in SourceStage(source, config):
            for f in window.frames:
                snaps.see(float(f.time), f.image)
                frames[round(float(f.time), 3)] = f.image
            for e in fuse(window, encode(window)).events:
                snaps(e)
                if e["type"] == "streamfuse.person":
                    people.append(e)
    finally:
        encode.close()
    assert people and all("snapshot" in p["data"]["evidence"] for p in people)
    snap = people[-1]["data"]["evidence"]["snapshot"]
    path = Path(snap["path"])
    assert path.parent == tmp_path / "cam" and path.suffix == ".jpg"
    assert not list(path.parent.glob(".part-*"))  # written atomically: no temporary left
    image = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
    original = frames[round(snap["time"], 3)]
    assert image.shape == original.shape
    h, w = image.shape[:2]
    x0, y0, x1, y1 = snap["box"]
    box = (slice(int(y0 * h), int(y1 * h)), slice(int(x0 * w), int(x1 * w)))
    # the box region of the JPEG is the person of the best frame (JPEG error only), not another frame's
    assert np.abs(image[box].astype(int) - original[box].astype(int)).mean() < 6
    other = frames[max(frames)] if round(snap["time"], 3) != max(frames) else frames[min(frames)]
    assert np.abs(image[box].astype(int) - other[box].astype(int)).mean() > \
        np.abs(image[box].astype(int) - original[box].astype(int)).mean()


def test_the_event_server_serves_a_snapshot_at_the_url_its_event_names(tmp_path):
    import urllib.request

    from streamfuse.serve.server import EventServer

    server = EventServer("127.0.0.1", 0)
    try:
        snaps = Snapshots(SnapshotsConfig(str(tmp_path)), "cam", url=f"{server.url}/media/cam")
        server.media_folders = {"cam": [snaps.folder]}
        snaps.see(1.0, np.full((16, 16, 3), 200, np.uint8))
        event = {"type": "streamfuse.person", "data": {"phase": "start", "event_id": "cam-person-1", "start": 1.0,
                                                       "evidence": {"best_time": 1.0, "best_box": [0, 0, 1, 1]}}}
        snaps(event)
        shot = event["data"]["evidence"]["snapshot"]
        umask = os.umask(0)
        os.umask(umask)
        assert Path(shot["path"]).stat().st_mode & 0o777 == 0o666 & ~umask  # an ordinary file, not mkstemp's 0600
        with urllib.request.urlopen(shot["url"], timeout=5) as r:
            assert r.headers["Content-Type"] == "image/jpeg" and r.read() == Path(shot["path"]).read_bytes()
    finally:
        server.close()


def test_an_earlier_runs_files_count_toward_the_bound(tmp_path):
    import os

    from streamfuse.fleet.media_files import MediaFolder

    folder = tmp_path / "cam"
    folder.mkdir()
    for i, name in enumerate(["a.jpg", "b.jpg", "c.jpg", "notes.txt"]):
        (folder / name).write_bytes(b"x")
        os.utime(folder / name, ns=(i * 10**9, i * 10**9))
    files = MediaFolder(folder, 2, (".jpg",))
    assert sorted(p.name for p in folder.iterdir()) == ["b.jpg", "c.jpg", "notes.txt"]  # oldest first; others kept
    files.write("d.jpg", lambda tmp: open(tmp, "wb").write(b"y"))
    assert sorted(p.name for p in folder.iterdir()) == ["c.jpg", "d.jpg", "notes.txt"]


def test_a_folder_that_cannot_be_made_is_one_line_and_a_failing_write_stops_nothing(tmp_path, caplog):
    blocker = tmp_path / "a-file"
    blocker.write_bytes(b"")
    with pytest.raises(ConfigError, match=r"^snapshots.dir: cannot make .*a-file/cam") as info:
        Snapshots(SnapshotsConfig(str(blocker)), "cam")
    assert "\n" not in str(info.value)
    snaps = Snapshots(SnapshotsConfig(str(tmp_path / "media")), "cam")
    snaps.folder.rmdir()
    snaps.folder.write_bytes(b"")  # the folder is gone (a full or remounted disk): writes fail from now on
    for i in range(3):
        snaps.see(float(i), np.full((8, 8, 3), 100, np.uint8))
        event = {"type": "streamfuse.person", "data": {"phase": "start", "event_id": f"cam-person-{i}", "start": float(i),
                                                       "evidence": {"best_time": float(i), "best_box": [0, 0, 1, 1]}}}
        snaps(event)  # no exception: the event goes on, without a snapshot
        assert "snapshot" not in event["data"]["evidence"]
    assert snaps.failed == 3
    assert len([r for r in caplog.records if "snapshots in" in r.getMessage()]) == 2  # the 1st and 2nd: bounded
