"""Many cameras in one process: one :class:`CameraPipeline` per camera, each on its own thread,
sharing one :class:`~.shared.ModelPool`, one set of sinks and one metrics registry.

- Each camera keeps its own reader, bounded frame queue (policy ``drop_oldest_video``, drops counted
  per camera) and encoder lanes; the heavy networks are shared (and the detector batched) through
  the pool, so a slow camera waits only on its own queue and never holds the others' windows.
- A camera that is down at the start, or drops later, is retried on its own thread (its
  ``source.lost`` / ``source.connected`` events and the ``on_status`` lines name it); a camera
  given up (``live.max_retries``) is reported and the others go on.
- :meth:`Fleet.reload` applies a new camera list: removed cameras stop, added ones start, changed
  ones restart; the unchanged keep running (and keep their event numbering).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Sequence

from ..config.loader import as_dict
from ..errors import StreamfuseError
from ..runtime.live import LivePipeline, LiveStats
from ..serve.metrics import Metrics
from .config import Camera
from ..decode.payloads import Thumbnail, VideoFrame
from .shared import ModelPool
from .masks import Masker
from .clips import ClipRecorder
from .snapshots import Snapshots
from .zones import ZoneTracker

log = logging.getLogger(__name__)


class LockedSink:
    """A sink several camera threads emit to: ``emit`` and ``flush`` one at a time; ``close`` is the owner's."""

    def __init__(self, sink: Any, lock: threading.Lock) -> None:
        self.sink = sink
        self.name = getattr(sink, "name", type(sink).__name__)
        self._lock = lock

    def emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            self.sink.emit(event)

    def flush(self, timeout: float | None = None) -> None:
        with self._lock:
            self.sink.flush(timeout)

    def close(self) -> None:  # the fleet's owner closes the real sink, once
        pass


class CameraPipeline(LivePipeline):
    """A live pipeline for one camera of a fleet: its events also get zones (see :mod:`.zones`)."""

    def __init__(self, camera: Camera, sinks: Sequence[Any], *, media_url: str | None = None, **kw: Any) -> None:
        super().__init__(camera.source, camera.config, sinks, **kw)
        self.camera = camera
        url = f"{media_url}/{camera.name}" if media_url else None
        self.zones = ZoneTracker(camera.zones, self._zone_event)
        self.snapshots = Snapshots(camera.snapshots, camera.name, url) if camera.snapshots else None
        self.clips = ClipRecorder(camera.clips, camera.name, url) if camera.clips else None
        self.reader.tap = self.clips  # sees the compressed packets, before decoding
        self.masker = Masker(camera.masks) if camera.masks else None

    @property
    def media_folders(self) -> list[Path]:
        """The folders this camera writes snapshots and clips to (what the event server may serve)."""
        return [m.folder for m in (self.snapshots, self.clips) if m is not None]

    def run(self) -> LiveStats:
        try:
            return super().run()
        finally:
            if self.clips is not None:
                self.clips.close()

    last_frame_wall: float | None = None  # clock() when the camera's last video frame arrived
    _detections: list = []  # the detections of the window being emitted

    def _take(self, arrival) -> None:
        if self.masker is not None and isinstance(arrival.item, (VideoFrame, Thumbnail)):
            arrival = dataclasses.replace(arrival, item=dataclasses.replace(
                arrival.item, image=self.masker(arrival.item.image)))
        item = arrival.item
        if isinstance(item, VideoFrame):
            self.last_frame_wall = arrival.wall
            if self.snapshots is not None:
                self.snapshots.see(float(item.time), item.image)
            if self.clips is not None:
                self.clips.frame(arrival.connection, item.time, item.pts, item.time_base)
        super()._take(arrival)

    def _zone_event(self, type_: str, at: float, label: str, evidence: dict[str, Any]) -> dict[str, Any]:
        t = Fraction(at).limit_denominator(1_000_000)
        return self._event(type_, t, t, ("video",), label=label, evidence=evidence)

    def _fused(self, window):
        features = self.encode(window)
        self._detections = [d for f in features for d in f.detections]  # what the zones judge, frame by frame
        return self.fuse(window, features)

    def _emit(self, events: list[dict[str, Any]]) -> None:
        detections, self._detections = self._detections, []
        for event in events:
            if self.snapshots is not None:
                self.snapshots(event)
            if self.clips is not None:
                self.clips(event)
        super()._emit(events + self.zones(events, detections) if self.camera.zones else events)


@dataclass
class CameraState:
    camera: Camera
    pipeline: CameraPipeline
    thread: threading.Thread
    error: BaseException | None = None
    stats: LiveStats | None = None
    started: float = field(default_factory=time.monotonic)
    last_status: Any = None


class Fleet:
    """Runs cameras until :meth:`stop`; ``on_status(name, status)`` sees every camera's status,
    ``on_error(name, error)`` a camera that ended with an error (the others keep running)."""

    def __init__(self, sinks: Sequence[Any] = (), *, metrics: Metrics | None = None, shared: bool = True,
                 detector_workers: int = 1, media_url: str | None = None,
                 on_status: Callable[[str, Any], None] | None = None,
                 on_error: Callable[[str, BaseException], None] | None = None,
                 on_window: Callable[[str, Any, Any, Any], None] | None = None) -> None:
        self.pool = ModelPool(shared=shared, detector_workers=detector_workers)
        self.metrics = metrics if metrics is not None else Metrics()
        lock = threading.Lock()
        self.sinks = [LockedSink(s, lock) for s in sinks]
        self.on_status = on_status
        self.on_error = on_error
        self.on_window = on_window
        self.cameras: dict[str, CameraState] = {}
        self.media_url = media_url  # where the event server serves the cameras' snapshots and clips
        #: camera name -> the folders of its snapshots and clips (the only ones the event server serves)
        self.media_folders: dict[str, list[Path]] = {}
        self.finished: dict[str, CameraState] = {}  # stopped or failed cameras, by name (the last run)
        self._lock = threading.RLock()
        self.metrics.registry.register(_CameraCollector(self))

    # -- control ------------------------------------------------------------------------------

    def start(self, cameras: Sequence[Camera]) -> None:
        for camera in cameras:
            self._start(camera)

    def reload(self, cameras: Sequence[Camera]) -> dict[str, list[str]]:
        """Apply a new camera list; returns the names ``added``, ``removed``, ``changed`` and
        ``failed`` (cameras that could not start: a missing model, a folder that cannot be
        written; each reported through ``on_error``, the others unaffected, retried at the next reload)."""
        new = {c.name: c for c in cameras}
        with self._lock:
            old = dict(self.cameras)
        removed = [n for n in old if n not in new]
        changed = [n for n in old if n in new and _key(old[n].camera) != _key(new[n])]
        added = [n for n in new if n not in old]
        for name in removed + changed:
            self._stop(name)
        failed = []
        for name in changed + added:
            try:
                self._start(new[name])
            except StreamfuseError as exc:
                failed.append(name)
                if self.on_error is not None:
                    self.on_error(name, exc)
                else:
                    log.warning("camera %s not started: %s", name, exc)
        return {"added": [n for n in added if n not in failed], "removed": removed,
                "changed": [n for n in changed if n not in failed], "failed": failed}

    def stop(self) -> dict[str, LiveStats]:
        """Stop every camera, wait for them to finish, close the shared models; stats per camera."""
        with self._lock:
            names = list(self.cameras)
        for name in names:
            self.cameras[name].pipeline.stop()
        for name in names:
            self._stop(name)
        self.pool.close()
        return {n: s.stats for n, s in self.finished.items() if s.stats is not None}

    def health(self) -> dict[str, dict[str, Any]]:
        """Per camera: connected, frames in and dropped, reconnects, decode errors, windows, last error."""
        out = {}
        with self._lock:
            states = {**self.finished, **self.cameras}
        for name, st in states.items():
            stats = st.pipeline.stats
            status = st.last_status
            out[name] = {
                "running": name in self.cameras and st.thread.is_alive(),
                "connected": status is not None and status.kind == "connected",
                "frames_in": stats.frames_in, "dropped": dict(stats.dropped),
                "reconnects": stats.reconnects, "windows": stats.windows,
                "decode_errors": st.pipeline.reader.decode_errors_total,
                "events": sum(stats.events.values()),
                "last_frame_age": (round(time.monotonic() - st.pipeline.last_frame_wall, 3)
                                   if st.pipeline.last_frame_wall is not None else None),
                "error": str(st.error) if st.error is not None else None,
            }
        return out

    # -- one camera ---------------------------------------------------------------------------

    def _start(self, camera: Camera) -> None:
        encoders = self.pool.encoders(camera.config.encoders)
        holder: dict[str, CameraState] = {}

        def status(s) -> None:
            holder["state"].last_status = s
            if self.on_status is not None:
                self.on_status(camera.name, s)

        def window(w, fused, latency) -> None:
            if self.on_window is not None:
                self.on_window(camera.name, w, fused, latency)

        pipeline = CameraPipeline(camera, self.sinks, metrics=self.metrics, on_status=status,
                                  on_window=window, encoders=encoders, media_url=self.media_url)
        self.media_folders[camera.name] = pipeline.media_folders
        thread = threading.Thread(target=self._run, args=(camera.name,), name=f"camera-{camera.name}", daemon=True)
        state = CameraState(camera, pipeline, thread)
        holder["state"] = state
        with self._lock:
            self.cameras[camera.name] = state
        thread.start()

    def _run(self, name: str) -> None:
        state = self.cameras[name]
        try:
            state.stats = state.pipeline.run()
        except BaseException as exc:  # noqa: BLE001 - one camera's end must not end the others
            state.error = exc
            state.stats = state.pipeline.stats
            if self.on_error is not None:
                self.on_error(name, exc)
            else:
                log.warning("camera %s stopped: %s", name, exc)

    def _stop(self, name: str) -> None:
        with self._lock:
            state = self.cameras.pop(name, None)
        if state is None:
            return
        state.pipeline.stop()
        live = state.camera.config.live
        state.thread.join(live.stall_timeout + 2 * live.connect_timeout + 30.0)
        if state.thread.is_alive():
            log.warning("camera %s did not stop in time", name)
        if state.stats is None:
            state.stats = state.pipeline.stats
        self.finished[name] = state


class _CameraCollector:
    """Per-camera health in ``/metrics``, read at every scrape (label ``camera``)."""

    _ROWS = (("streamfuse_camera_connected", "gauge", "1 while the camera delivers media", "connected"),
             ("streamfuse_camera_running", "gauge", "1 while the camera's pipeline runs", "running"),
             ("streamfuse_camera_frames_in", "counter", "Decoded frames taken in, per camera", "frames_in"),
             ("streamfuse_camera_reconnects", "counter", "Reconnects, per camera", "reconnects"),
             ("streamfuse_camera_windows", "counter", "Windows fused, per camera", "windows"),
             ("streamfuse_camera_decode_errors", "counter", "Packets that failed to decode, per camera", "decode_errors"),
             ("streamfuse_camera_last_frame_age_seconds", "gauge", "Seconds since the camera's last frame",
              "last_frame_age"))

    def __init__(self, fleet: Fleet) -> None:
        self.fleet = fleet

    def describe(self):
        return []

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        health = self.fleet.health()
        for name, kind, doc, key in self._ROWS:
            family = (GaugeMetricFamily if kind == "gauge" else CounterMetricFamily)(name, doc, labels=["camera"])
            for camera, row in health.items():
                if row[key] is not None:
                    family.add_metric([camera], float(row[key]))
            yield family
        dropped = CounterMetricFamily("streamfuse_camera_frames_dropped", "Frames dropped, per camera and reason",
                                      labels=["camera", "reason"])
        for camera, row in health.items():
            for reason, n in row["dropped"].items():
                dropped.add_metric([camera, reason], float(n))
        yield dropped


def _key(camera: Camera) -> Any:
    return (camera.spec, repr(as_dict(camera.config)))


__all__ = ["Fleet", "CameraPipeline", "LockedSink"]
