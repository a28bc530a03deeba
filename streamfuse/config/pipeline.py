"""The pipeline's configuration: one typed dataclass per component, composed.

Defaults live here; ``configs/*.yaml`` and ``--set key=value`` override them through
:mod:`streamfuse.config.loader`. Config keys are public API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Mapping

from ..errors import ConfigError
from .archive import ArchiveConfig
from .base import Section, StageSections, bounded
from .fusion import FusionConfig
from .live import LiveConfig
from .serve import ServeConfig
from .sinks import SinksConfig


@dataclass(frozen=True)
class DecodeConfig(Section):
    """How sources are decoded."""

    fps: float = bounded(10.0, 0.0, 240.0, doc="analysis frame rate, chosen by timestamp; 0 keeps every frame")
    width: int = bounded(320, 16, 7680, doc="analysis frame width in pixels")
    height: int = bounded(0, 0, 4320, doc="analysis frame height; 0 keeps the aspect ratio")
    threads: int = bounded(0, 0, 64, doc="video decoder threads; 0 = auto: one for frames up to 1280x720 when "
                                         "unreferenced frames are skipped (a single thread then keeps ahead of the "
                                         "analysis, and frame threads cost ~20% more CPU and add latency), else "
                                         "FFmpeg's choice")
    #: ``auto`` skips decoding frames no other frame refers to (most B-frames) when the analysis
    #: rate is at most half the source's rate and no enabled encoder reads every frame's thumbnail
    #: (the cut and flash detector does: a one-frame flash or a cut on a skipped frame would go
    #: unseen): about half the decoding work, frame times stay exact, only which frames are analysed
    #: changes. ``nonref`` always skips them (on 720p30 H.264 it saves ~0.04 CPU s per media second,
    #: and misses flashes on B-frames); ``none`` decodes every frame.
    skip_frames: Literal["auto", "nonref", "none"] = "auto"
    thumbnail_width: int = bounded(80, 0, 640, doc="width of the tiny picture taken of every decoded frame for the "
                                                  "per-frame statistics (scene cuts, flashes), when an enabled "
                                                  "encoder reads them; 0: none (cuts then use the analysis frames)")
    subtitles: str | None = None  # a sidecar .srt/.vtt to use for every input (CLI --subtitles)
    sidecar_subtitles: bool = True  # pick up clip.srt / clip.vtt beside clip.mp4
    max_corrupt_fraction: float = bounded(0.5, 0.0, 1.0, doc="give up on a file when more packets than this fail")


@dataclass(frozen=True)
class WindowConfig(Section):
    """Windows ``[t0, t1)`` of ``length`` seconds every ``hop`` seconds."""

    length: float = bounded(2.0, 0.0, 3600.0, lo_open=True)
    hop: float = bounded(1.0, 0.0, 3600.0, lo_open=True)

    def check(self) -> None:
        if self.hop > self.length:
            raise ConfigError(f"hop: {self.hop} is larger than length {self.length}; windows would leave gaps")


@dataclass(frozen=True)
class EncodersConfig(StageSections):
    """Which encoders run, and each one's settings: ``encoders.<key>`` is the section its spec
    declares (see :mod:`streamfuse.registry`). ``enabled: false`` turns them all off (windows only,
    e.g. to measure decoding)."""

    _group = "encoders"

    enabled: bool = True
    sections: Mapping[str, Any] = field(default_factory=dict, repr=False)


@dataclass(frozen=True)
class RuntimeConfig(Section):
    """Where stages run."""

    kind: Literal["local", "ray"] = "local"
    max_in_flight: int = bounded(4, 1, 256, doc="windows in flight between the source and the sink")
    #: where the local runtime decodes: ``process`` (a child process with its own GIL; faster on a
    #: multi-core machine) or ``thread`` (in this process, no child; see runtime/source_process.py)
    source_worker: Literal["process", "thread"] = "process"
    ray_address: str | None = None


@dataclass(frozen=True)
class OutputConfig(Section):
    directory: str = "streamfuse-out"


@dataclass(frozen=True)
class PipelineConfig(Section):
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    window: WindowConfig = field(default_factory=WindowConfig)
    encoders: EncodersConfig = field(default_factory=EncodersConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    sinks: SinksConfig = field(default_factory=SinksConfig)
    serve: ServeConfig = field(default_factory=ServeConfig)
    archive: ArchiveConfig = field(default_factory=ArchiveConfig)
