"""The ``cameras:`` section of a watch config file: camera name -> URL, or a mapping with ``url``,
optional ``zones`` and per-camera overrides of any pipeline config key::

    encoders: {objects: {rate: 2}}      # every key outside ``cameras:`` applies to every camera
    cameras:
      garden: rtsp://user:pass@10.0.0.5/stream
      driveway:
        url: rtsp://10.0.0.6/stream
        snapshots: false                # this camera keeps none (see the top-level snapshots: below)
        encoders.objects.rate: 4        # a dotted key, or nested mappings, override the shared config
        live: {rtsp_transport: udp}
        zones:                          # named polygons, corners as [x, y] fractions 0-1 of the frame
          porch: [[0.0, 0.5], [0.4, 0.5], [0.4, 1.0], [0.0, 1.0]]
        masks:                          # hidden from every encoder (see .masks)
          - [[0.8, 0.0], [1.0, 0.0], [1.0, 0.2], [0.8, 0.2]]
    snapshots: {dir: out/snapshots, max_files: 1000}   # best frame of each object (see .snapshots)
    clips: {pre: 5, post: 5, max_files: 100}           # 5 s before to 5 s after each event (see .clips)
    fleet: {detector_workers: 2}        # copies of the shared detector, each on its own thread

The camera name is the CloudEvents ``source`` of its events (``streamfuse://driveway``), so it is
a slug: lower-case letters, digits, ``-`` and ``_``. Every problem is one :class:`ConfigError` line.
"""

from __future__ import annotations

import dataclasses
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..config.loader import _dotted, _merge, build, from_env, parse_set, read_yaml
from ..config.pipeline import PipelineConfig
from ..errors import ConfigError, StreamfuseError
from ..sources.live import live_source
from ..sources.resolve import Source
from .clips import ClipsConfig
from .masks import parse_masks
from .snapshots import SnapshotsConfig
from .zones import Zone, parse_zones

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
#: keys of a camera mapping that are not pipeline config keys
CAMERA_KEYS = ("url", "zones", "masks", "snapshots", "clips")


@dataclass(frozen=True)
class Camera:
    """One camera: its name, its source (id = the name), its own pipeline config and zones."""

    name: str
    source: Source
    config: PipelineConfig
    zones: tuple[Zone, ...] = ()
    snapshots: SnapshotsConfig | None = None
    masks: tuple[Zone, ...] = ()
    clips: ClipsConfig | None = None
    spec: Any = None  # the camera's entry as written (tells a changed camera from an unchanged one)


def has_cameras(files: list[str]) -> bool:
    """Whether any of the config files has a top-level ``cameras:`` section."""
    return any("cameras" in read_yaml(f) for f in files)


def load_fleet(files: list[str | os.PathLike[str]], sets: list[str] = (),
               environ: Mapping[str, str] | None = None) -> list[Camera]:
    """The cameras of the config files (later files win), each with the shared config, the
    environment and ``--set`` items applied first, then its own overrides."""
    cameras, data = _read(files, sets, environ)
    if not isinstance(cameras, Mapping) or not cameras:
        raise ConfigError("cameras: expected a mapping of camera name to URL, e.g. cameras: {garden: rtsp://...}")
    snapshots, clips = data.pop("snapshots", None), data.pop("clips", None)
    data.pop("fleet", None)
    build(PipelineConfig, data)  # a bad shared key is reported once, without a camera name
    return [camera(str(name), spec, data, snapshots, clips) for name, spec in cameras.items()]


def shared_config(files: list[str | os.PathLike[str]], sets: list[str] = (),
                  environ: Mapping[str, str] | None = None) -> PipelineConfig:
    """The config every camera starts from (the keys outside ``cameras:``): sinks and serve settings."""
    data = _read(files, sets, environ)[1]
    for key in ("snapshots", "clips", "fleet"):
        data.pop(key, None)
    return build(PipelineConfig, data)


def fleet_settings(files: list[str | os.PathLike[str]], sets: list[str] = (),
                   environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The ``fleet:`` section: ``detector_workers`` (copies of each shared detector, each on a
    worker thread of its own; default 1)."""
    spec = _read(files, sets, environ)[1].get("fleet") or {}
    if not isinstance(spec, Mapping) or set(spec) - {"detector_workers"}:
        raise ConfigError("fleet: expected a mapping with detector_workers: N")
    workers = spec.get("detector_workers", 1)
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= 16:
        raise ConfigError(f"fleet.detector_workers: {workers!r} must be a whole number from 1 to 16")
    return {"detector_workers": workers}


def _read(files, sets, environ) -> tuple[Any, dict[str, Any]]:
    data: dict[str, Any] = {}
    for f in files:
        data = _merge(data, read_yaml(f))
    cameras = data.pop("cameras", None)
    data = _merge(data, from_env(environ))
    for item in sets:
        data = _merge(data, parse_set(item))
    return cameras, data


def camera(name: str, spec: Any, shared: dict[str, Any], snapshots: Any = None, clips: Any = None) -> Camera:
    where = f"cameras.{name}"
    if not _NAME.match(name):
        raise ConfigError(f"{where}: a camera name is lower-case letters, digits, '-' and '_' "
                          "(it names the camera's events)")
    if isinstance(spec, str):
        spec = {"url": spec}
    if not isinstance(spec, Mapping) or not isinstance(spec.get("url"), str):
        raise ConfigError(f"{where}: expected a URL, or a mapping with url: and optional zones:, masks:, snapshots: "
                          "and config keys")
    own: dict[str, Any] = {}
    for key, value in spec.items():
        if key in CAMERA_KEYS:
            continue
        own = _merge(own, _dotted(str(key), value) if "." in str(key) else {key: value})
    try:
        config = build(PipelineConfig, _merge(shared, own))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
    # a camera that is down at the start is retried, not fatal: the others must not wait on it
    config = dataclasses.replace(config, live=dataclasses.replace(config.live, wait_at_start=True))
    try:
        source = live_source(spec["url"])
    except StreamfuseError as exc:  # the URL's own one-line error, with the camera's name
        raise type(exc)(f"{where}: {exc}") from None
    source = dataclasses.replace(source, id=name, name=name)
    zones = parse_zones(spec.get("zones") or {}, f"{where}.zones")
    if "snapshots" in spec:
        snaps = SnapshotsConfig.parse(spec["snapshots"], f"{where}.snapshots")
    else:
        snaps = SnapshotsConfig.parse(snapshots)
    masks = parse_masks(spec["masks"], f"{where}.masks") if spec.get("masks") else ()
    top_snaps = SnapshotsConfig.parse(snapshots) if snapshots not in (None, False) else None
    media_dir = snaps.dir if snaps else (top_snaps.dir if top_snaps else None)
    if "clips" in spec:
        clip_cfg = ClipsConfig.parse(spec["clips"], media_dir, f"{where}.clips")
    else:
        clip_cfg = ClipsConfig.parse(clips, media_dir)
    return Camera(name, source, config, zones, snaps, masks, clip_cfg, spec=_frozen(spec))


def _frozen(value: Any) -> Any:
    if isinstance(value, Mapping):
        return tuple(sorted((str(k), _frozen(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple)):
        return tuple(_frozen(v) for v in value)
    return value


__all__ = ["Camera", "load_fleet", "has_cameras"]
