"""Video frames sampled at the analysis rate by timestamp, converted to RGB at the analysis size.

:class:`VideoSampler` sets up one video stream's decoder (skipping unreferenced frames and
choosing threads, see :class:`~streamfuse.config.pipeline.DecodeConfig`) and turns its decoded
frames into :class:`~streamfuse.decode.payloads.VideoFrame` values. A frame is kept when its time
reaches the next sampling instant ``k / fps``; frames in between cost one integer comparison of
pts values. Time is ``pts * time_base - origin`` (exact); frame counts are never used for time.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Iterator

import av
import numpy as np

from .convert import to_rgb, to_thumbnail
from .payloads import Thumbnail, VideoFrame

if TYPE_CHECKING:
    from ..config.pipeline import DecodeConfig
    from .demux import DemuxReport

#: with ``decode.threads`` 0 (auto), frames up to this size decode on one thread when unreferenced
#: frames are skipped (see DecodeConfig)
_ONE_THREAD = 1280 * 720
#: the frame duration assumed when the stream states no rate, or an impossible one
_FALLBACK_FRAME = Fraction(1, 25)
#: frame durations outside [_MIN_FRAME, MAX_FRAME_DURATION] are damaged headers (a still shown
#: longer than a minute is taken to last a minute: the media's end is not stretched by it)
_MIN_FRAME = Fraction(1, 1000)
MAX_FRAME_DURATION = Fraction(60)


def output_size(width: int, height: int, sar: Fraction | None, config: DecodeConfig) -> tuple[int, int]:
    """The analysis size of a ``width`` x ``height`` picture with sample aspect ratio ``sar``:
    ``decode.width`` wide (never wider than the display width), ``decode.height`` high or the
    display aspect ratio kept (even heights, so that chroma subsampling stays aligned)."""
    display_w = width * (sar if sar and sar > 0 else 1)
    out_w = min(config.width, max(2, int(display_w))) if config.width else width
    if config.height:
        return out_w, config.height
    out_h = max(1, round(out_w * height / display_w)) if display_w else height
    if height >= 2:
        out_h = max(2, out_h - out_h % 2)
    return out_w, out_h


class VideoSampler:
    """Samples the frames of ``stream`` at ``config.fps`` (0: every frame), in media time from ``origin``.

    Frames without a timestamp, and duplicate or out-of-order timestamps, are dropped; frames
    before ``origin`` are decoded but not counted. ``end`` is where the video ends (the last
    decoded frame's end, sampled or not). With ``decode.thumbnail_width``, every decoded frame
    also gives a :class:`~streamfuse.decode.payloads.Thumbnail` (before its sampled frame, if any)."""

    def __init__(self, stream: av.VideoStream, origin: Fraction, config: DecodeConfig, report: DemuxReport) -> None:
        self.stream = stream
        self.origin = origin
        self.config = config
        self.report = report
        self.time_base = stream.time_base
        report.streams.append("video")
        report.video_codec = stream.codec_context.name
        rate = stream.average_rate or stream.guessed_rate
        report.frame_rate = str(rate) if rate else None
        nominal = Fraction(1) / Fraction(rate) if rate and rate > 0 else _FALLBACK_FRAME
        self.nominal = nominal if _MIN_FRAME <= nominal <= MAX_FRAME_DURATION else _FALLBACK_FRAME
        self.step = Fraction(1) / Fraction(config.fps).limit_denominator(1001) if config.fps else None
        self._configure(rate)
        self.size: tuple[int, int] | None = None  # the output size, fixed by the first sampled frame
        self.skip_below: int | None = None  # frames with pts below this are before origin or between samples
        self.last_pts: int | None = None
        self._end = Fraction(0)

    def _configure(self, rate) -> None:
        cfg, ctx, report = self.config, self.stream.codec_context, self.report
        self.stream.thread_type = "AUTO"
        # auto: never when thumbnails are taken (a one-frame flash or a cut on a B-frame would go unseen)
        if cfg.skip_frames == "nonref" or (cfg.skip_frames == "auto" and not cfg.thumbnail_width
                                           and self.step is not None and rate
                                           and Fraction(cfg.fps).limit_denominator(1001) * 2 <= rate):
            ctx.skip_frame = "NONREF"
            report.skipped_nonref = True
        if cfg.threads:
            ctx.thread_count = cfg.threads
        elif report.skipped_nonref and 0 < ctx.width * ctx.height <= _ONE_THREAD:
            ctx.thread_count = 1

    def items(self, frame: av.VideoFrame) -> Iterator[VideoFrame | Thumbnail]:
        """The thumbnail and the sampled frame of one decoded ``frame`` (no frame when it falls
        between samples)."""
        pts, vtb, report = frame.pts, self.time_base, self.report
        if pts is None or (self.last_pts is not None and pts <= self.last_pts):
            return  # no timestamp, or a duplicate/out-of-order one
        if self.skip_below is None:
            self.skip_below = math.ceil(self.origin / vtb)
        thumbs = self.config.thumbnail_width
        if pts < self.skip_below:
            if self.last_pts is not None or pts * vtb >= self.origin:
                report.frames_decoded += 1
                self.last_pts = pts
                if thumbs and pts * vtb >= self.origin:
                    yield self._thumbnail(frame, pts)
            return
        report.frames_decoded += 1
        self.last_pts = pts
        t = pts * vtb - self.origin
        dur = self._duration(frame)
        self._end = t + dur
        if thumbs:
            yield Thumbnail(t, dur, to_thumbnail(frame, thumbs))
        if self.step is not None:
            next_sample = (math.floor(t / self.step) + 1) * self.step
            self.skip_below = math.ceil((next_sample + self.origin) / vtb)
        if self.size is None:
            sar = self.stream.codec_context.sample_aspect_ratio
            self.size = output_size(frame.width, frame.height, Fraction(sar) if sar else None, self.config)
        image = to_rgb(frame, self.size[0], self.size[1])
        report.frames_sampled += 1
        yield VideoFrame(pts, vtb, t, dur, np.ascontiguousarray(image))

    def _duration(self, frame: av.VideoFrame) -> Fraction:
        dur = frame.duration * self.time_base if frame.duration and frame.duration > 0 else self.nominal
        return min(dur, MAX_FRAME_DURATION)  # a damaged duration must not stretch the media

    def _thumbnail(self, frame: av.VideoFrame, pts: int) -> Thumbnail:
        return Thumbnail(pts * self.time_base - self.origin, self._duration(frame),
                         to_thumbnail(frame, self.config.thumbnail_width))

    @property
    def end(self) -> Fraction:
        """Media time where the video ends: past the last decoded frame, sampled or not."""
        if self.last_pts is None:
            return self._end
        return max(self._end, self.last_pts * self.time_base - self.origin + self.nominal)
