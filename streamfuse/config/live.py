"""Configuration of live feeds (``streamfuse watch``): opening, reconnecting, latency and dropping.

Keys live under ``live.`` (``--set live.stall_timeout=3``). Config keys are public API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..errors import ConfigError
from .base import Section, bounded


@dataclass(frozen=True)
class LiveConfig(Section):
    """How a live feed is read and how far processing may fall behind it.

    A feed that was up and drops, errors or stalls is reopened after ``reconnect_initial`` seconds,
    doubling each failed attempt up to ``reconnect_max``, each wait scaled by a random factor in
    ``[1 - reconnect_jitter, 1 + reconnect_jitter]``; ``max_retries`` failed attempts in a row end
    the run (unset: retry forever). A feed that cannot be opened at the start is an error at once,
    unless ``wait_at_start`` is true.
    """

    connect_timeout: float = bounded(5.0, 0.1, 600.0,
                                     doc="seconds an attempt may take to connect and find the streams")
    stall_timeout: float = bounded(5.0, 0.1, 600.0,
                                   doc="seconds without data, or without decodable frames, after which the "
                                       "feed counts as lost and is reopened (HLS: above the segment length)")
    reconnect_initial: float = bounded(0.5, 0.0, 600.0, doc="seconds before the first reconnect attempt")
    reconnect_max: float = bounded(10.0, 0.0, 3600.0, doc="longest wait between reconnect attempts")
    reconnect_jitter: float = bounded(0.2, 0.0, 1.0, doc="random spread of each wait, as a fraction of it")
    max_retries: int | None = bounded(None, 0, 10**9,
                                      doc="failed reconnect attempts in a row before giving up; unset = forever")
    wait_at_start: bool = False  # true: a feed that is down at the start is retried instead of an error
    max_lateness: float = bounded(0.5, 0.0, 60.0,
                                  doc="seconds (wall clock) a stream may lag the others before its bound is "
                                      "advanced, so a silent or missing stream never stalls a window")
    queue_frames: int = bounded(25, 1, 100_000,
                                doc="decoded video frames waiting for the encoders at most; when full, the "
                                    "oldest waiting frame is dropped (audio is never dropped)")
    low_latency: bool = True  # FFmpeg input flags that cut buffering: fflags=nobuffer, flags=low_delay
    probe_seconds: float = bounded(0.5, 0.0, 60.0, doc="seconds of input FFmpeg analyses to find the streams")
    probe_bytes: int = bounded(500_000, 32, 10**9, doc="bytes of input FFmpeg reads at most to find the streams")
    rtsp_transport: Literal["tcp", "udp", "udp_multicast", "http", "https"] = "tcp"
    format: str | None = None  # force an FFmpeg input format ("v4l2", "mpegts", ...); /dev/video* uses v4l2
    options: dict[str, str] = field(default_factory=dict)  # extra FFmpeg options; they override ours

    def check(self) -> None:
        if self.reconnect_max < self.reconnect_initial:
            raise ConfigError(f"reconnect_max: {self.reconnect_max} is below reconnect_initial "
                              f"{self.reconnect_initial}; raise it or lower reconnect_initial")
        if not isinstance(self.options, dict):
            raise ConfigError(f"options: expected a mapping of FFmpeg option names to values, got {self.options!r}")
        for key, value in self.options.items():
            if not isinstance(key, str) or isinstance(value, (dict, list)):
                raise ConfigError(f"options: {key!r}: expected name: value, e.g. options: {{buffer_size: '1000000'}}")
        if self.format is not None and not self.format.replace("_", "").isalnum():
            raise ConfigError(f"format: {self.format!r} is not an FFmpeg format name (e.g. v4l2, mpegts)")

