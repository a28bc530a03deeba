"""The cameras: section: names, URLs, per-camera overrides, zones, one-line errors."""

from __future__ import annotations

import pytest

from streamfuse.errors import ConfigError, UnsupportedSourceError
from streamfuse.fleet.config import fleet_settings, has_cameras, load_fleet


def _write(tmp_path, text: str) -> str:
    p = tmp_path / "cameras.yaml"
    p.write_text(text)
    return str(p)


def test_cameras_get_their_name_their_overrides_and_the_shared_config(tmp_path):
    path = _write(tmp_path, """
window: {length: 3.0}
encoders: {objects: {rate: 2}}
cameras:
  garden: rtsp://admin:secret@127.0.0.1:8554/garden
  drive-way:
    url: tcp://127.0.0.1:9000
    encoders.objects.rate: 4
    live: {queue_frames: 5}
    zones: {porch: [[0, 0.5], [0.4, 0.5], [0.4, 1.0]]}
""")
    assert has_cameras([path])
    garden, drive = load_fleet([path], ["window.hop=1.5"])
    assert (garden.name, garden.source.id) == ("garden", "garden")
    assert "secret" not in garden.source.display
    assert garden.config.encoders.section("objects").rate == 2 and drive.config.encoders.section("objects").rate == 4
    assert drive.config.live.queue_frames == 5 and garden.config.live.queue_frames != 5
    assert garden.config.window.length == 3.0 and drive.config.window.hop == 1.5  # shared keys and --set
    assert garden.config.live.wait_at_start  # a camera down at the start is retried, not fatal
    assert [z.name for z in drive.zones] == ["porch"] and garden.zones == ()


@pytest.mark.parametrize("text, error, needle", [
    ("cameras: {Front Door: tcp://127.0.0.1:1}", ConfigError, "cameras.Front Door"),
    ("cameras: {a: {zones: {}}}", ConfigError, "cameras.a: expected a URL"),
    ("cameras: {a: /tmp/clip.mp4}", UnsupportedSourceError, "cameras.a:"),
    ("cameras: {a: {url: 'tcp://127.0.0.1:1', zones: {p: [[0, 0], [1, 1]]}}}", ConfigError, "cameras.a.zones.p"),
    ("cameras: {a: {url: 'tcp://127.0.0.1:1', window.lenght: 2}}", ConfigError, "cameras.a: unknown config key"),
    ("cameras: {}", ConfigError, "cameras: expected a mapping"),
])
def test_mistakes_are_one_line_naming_the_camera(tmp_path, text, error, needle):
    with pytest.raises(error) as info:
        load_fleet([_write(tmp_path, text)])
    assert needle in str(info.value) and "\n" not in str(info.value)


def test_fleet_settings_and_their_mistakes(tmp_path):
    path = _write(tmp_path, "fleet: {detector_workers: 2}\ncameras: {a: 'tcp://127.0.0.1:1'}\n")
    assert fleet_settings([path]) == {"detector_workers": 2} and load_fleet([path])[0].name == "a"
    assert fleet_settings([path], ["fleet.detector_workers=3"]) == {"detector_workers": 3}
    with pytest.raises(ConfigError, match="fleet.detector_workers"):
        fleet_settings([path], ["fleet.detector_workers=0"])
