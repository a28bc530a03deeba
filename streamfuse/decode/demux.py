"""Demux a source once and decode all its streams with PyAV.

:class:`Demuxer` yields, in demux order, timed payloads (:class:`VideoFrame`, :class:`AudioClip`,
:class:`TextSegment`) and stream-bound markers (:class:`StreamBound`, :class:`StreamClosed`) that
the aligner synchronises on, plus :class:`Damage` for corrupt stretches it skipped. Times are exact:
``pts * time_base - origin`` as Fractions, where ``origin`` is the earliest start of the decoded
streams, so media time starts at 0. Video frames are sampled at the analysis rate by timestamp,
never by counting frames.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Iterator, Union

import av
import numpy as np

from ..config.pipeline import DecodeConfig
from ..errors import MediaDecodeError, SourceNotFoundError, SourceUnreachableError, UnsupportedSourceError
from ..sources.resolve import Source
from ..sources.subtitles import ass_dialogue_text, plain_text, read_sidecar
from ..timebase import SAMPLE_RATE, seconds_to_samples
from .convert import to_rgb
from .payloads import AudioClip, TextSegment, VideoFrame

log = logging.getLogger(__name__)
#: with ``decode.threads`` 0 (auto), frames up to this size decode on one thread when unreferenced
#: frames are skipped (see DecodeConfig)
_ONE_THREAD = 1280 * 720

#: an audio frame whose time differs from the running sample clock by more than this is a gap/overlap
_AUDIO_JITTER = Fraction(1, 50)
#: decoded audio is handed on in clips of at least this many samples (0.1 s at 16 kHz; an AAC
#: frame is 1024 samples at the source rate, so this is ~5x fewer items to align)
_AUDIO_CHUNK = SAMPLE_RATE // 10
#: embedded subtitle packets may be muxed this much ahead of or behind the other streams
_SUBTITLE_SLACK = Fraction(1)
_TEXT_CODECS = frozenset({"subrip", "srt", "ass", "ssa", "webvtt", "mov_text", "text", "microdvd", "subviewer"})


@dataclass(frozen=True)
class StreamBound:
    """Nothing earlier than ``time`` will come on ``stream`` any more."""

    stream: str
    time: Fraction


@dataclass(frozen=True)
class StreamClosed:
    """``stream`` has ended (or the source never had it)."""

    stream: str


@dataclass(frozen=True)
class Damage:
    """The decoder skipped corrupt data in ``[start, end)``."""

    start: Fraction
    end: Fraction
    reason: str


Item = Union[VideoFrame, AudioClip, TextSegment, StreamBound, StreamClosed, Damage]


@dataclass
class DemuxReport:
    """What the demuxer saw; filled in while it runs."""

    streams: list[str] = field(default_factory=list)
    container: str = ""
    duration: float | None = None
    video_codec: str | None = None
    audio_codec: str | None = None
    frame_rate: str | None = None
    frames_decoded: int = 0
    frames_sampled: int = 0
    audio_samples: int = 0
    subtitle_cues: int = 0
    decode_errors: int = 0
    damaged: list[tuple[float, float, str]] = field(default_factory=list)
    truncated: bool = False
    skipped_nonref: bool = False  # frames no other frame refers to were not decoded
    media_end: float = 0.0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def open_container(source: Source, timeout: float = 15.0, options: dict[str, str] | None = None,
                   format: str | None = None, read_timeout: float | None = None) -> av.container.InputContainer:
    """Open ``source`` with PyAV, turning FFmpeg's errors into one-line user errors.

    ``options`` are FFmpeg format/protocol options (e.g. low-latency flags for live feeds).
    ``timeout`` bounds opening; ``read_timeout`` (default: ``timeout``) bounds each later read."""
    read_timeout = timeout if read_timeout is None else read_timeout
    opts: dict[str, str] = {}
    if "://" in source.uri:
        opts = {"rw_timeout": str(int(read_timeout * 1_000_000))}
    opts.update(options or {})
    try:
        return av.open(source.uri, mode="r", format=format, options=opts, timeout=(timeout, read_timeout))
    except FileNotFoundError:
        raise SourceNotFoundError(f"{source.display}: no such file") from None
    except PermissionError:
        raise UnsupportedSourceError(f"{source.display}: permission denied") from None
    except (av.error.InvalidDataError, av.error.PatchWelcomeError, av.error.DecoderNotFoundError) as exc:
        raise UnsupportedSourceError(
            f"{source.display}: not a media file FFmpeg can read, or truncated before its index ({exc.strerror or exc})"
        ) from None
    except (av.error.HTTPError, av.error.HTTPClientError, av.error.HTTPServerError, av.error.HTTPNotFoundError) as exc:
        raise SourceUnreachableError(f"{source.display}: HTTP error ({exc.strerror or exc}); check the URL") from None
    except (av.error.ConnectionRefusedError, av.error.TimeoutError, av.error.ConnectionResetError,
            OSError) as exc:
        raise SourceUnreachableError(f"{source.display}: cannot connect ({getattr(exc, 'strerror', None) or exc}); "
                                     "check the address and that the server is up") from None
    except av.error.ExitError:  # PyAV's open timeout interrupted FFmpeg
        raise SourceUnreachableError(f"{source.display}: no readable media arrived within {timeout:g} s; check the "
                                     "address and that the feed is sending") from None
    except av.error.FFmpegError as exc:
        raise UnsupportedSourceError(f"{source.display}: FFmpeg cannot open it ({exc.strerror or exc})") from None


def _output_size(width: int, height: int, sar: Fraction | None, config: DecodeConfig) -> tuple[int, int]:
    display_w = width * (sar if sar and sar > 0 else 1)
    out_w = min(config.width, max(2, int(display_w))) if config.width else width
    if config.height:
        return out_w, config.height
    out_h = max(1, round(out_w * height / display_w)) if display_w else height
    if height >= 2:
        out_h = max(2, out_h - out_h % 2)
    return out_w, out_h


class Demuxer:
    """Iterate the timed items of one source. One pass over the container for all streams."""

    def __init__(self, source: Source, config: DecodeConfig, *, open_timeout: float = 15.0,
                 options: dict[str, str] | None = None, format: str | None = None) -> None:
        self.source = source
        self._options = options
        self._format = format or source.format
        self.config = config
        self.report = DemuxReport()
        self._open_timeout = open_timeout
        self._container = None
        self._sidecar = config.subtitles or (source.subtitles if config.sidecar_subtitles else None)

    # -- setup -------------------------------------------------------------------------------

    def _pick_streams(self, container):
        video = next((s for s in container.streams.video
                      if not (s.disposition & av.stream.Disposition.attached_pic)), None)
        audio = container.streams.audio[0] if container.streams.audio else None
        subs = [s for s in container.streams.subtitles if s.codec_context.name in _TEXT_CODECS]
        return video, audio, subs[:1]

    @staticmethod
    def _origin(container, streams) -> Fraction:
        starts = [s.start_time * s.time_base for s in streams if s is not None and s.start_time is not None
                  and s.type in ("video", "audio")]
        if starts:
            return min(starts)
        if container.start_time is not None:
            return Fraction(container.start_time, 1_000_000)
        return Fraction(0)

    # -- the pass ----------------------------------------------------------------------------

    def open(self) -> None:
        """Open the source now (errors surface here, before any model is loaded)."""
        if self._container is None:
            self._container = open_container(self.source, self._open_timeout, self._options, self._format)

    def __iter__(self) -> Iterator[Item]:
        self.open()
        container, self._container = self._container, None
        try:
            yield from self._run(container)
        finally:
            container.close()

    def _run(self, container) -> Iterator[Item]:
        cfg = self.config
        video, audio, subs = self._pick_streams(container)
        rep = self.report
        rep.container = container.format.name
        rep.duration = container.duration / 1_000_000 if container.duration else None
        if video is None and audio is None and not subs:
            raise UnsupportedSourceError(f"{self.source.display}: has no video, audio or subtitle stream")
        origin = self._origin(container, [video, audio])
        self.origin = origin

        if video is not None:
            rep.streams.append("video")
            rep.video_codec = video.codec_context.name
            rate = video.average_rate or video.guessed_rate
            rep.frame_rate = str(rate) if rate else None
            video.thread_type = "AUTO"
            nominal = Fraction(1) / Fraction(rate) if rate else Fraction(1, 25)
            step = Fraction(1) / Fraction(cfg.fps).limit_denominator(1001) if cfg.fps else None
            if cfg.skip_frames == "nonref" or (cfg.skip_frames == "auto" and step is not None and rate
                                               and Fraction(cfg.fps).limit_denominator(1001) * 2 <= rate):
                video.codec_context.skip_frame = "NONREF"
                rep.skipped_nonref = True
            if cfg.threads:
                video.codec_context.thread_count = cfg.threads
            elif rep.skipped_nonref and 0 < video.codec_context.width * video.codec_context.height <= _ONE_THREAD:
                video.codec_context.thread_count = 1
        else:
            yield StreamClosed("video")
        if audio is not None:
            rep.streams.append("audio")
            rep.audio_codec = audio.codec_context.name
        else:
            yield StreamClosed("audio")

        sidecar = read_sidecar(self._sidecar) if self._sidecar else []
        if sidecar or subs:
            rep.streams.append("text")
        for seg in sidecar:
            rep.subtitle_cues += 1
            yield seg
        if not subs:
            yield StreamClosed("text")

        # video sampling state
        next_sample: Fraction | None = Fraction(0)
        size: tuple[int, int] | None = None
        # audio clock state
        resampler = None
        clock: int | None = None  # next output sample index
        in_time: Fraction | None = None  # expected time of the next input frame
        position = Fraction(0)
        media_end = Fraction(0)
        wanted = [s for s in (video, audio, *subs) if s is not None]
        failed_reads = 0

        # integer fast path: skipped frames cost one comparison of pts values
        vtb = video.time_base if video is not None else None
        skip_below: int | None = None  # frames with pts below this are before origin or between samples
        last_pts: int | None = None
        video_end = Fraction(0)

        def video_items(frame) -> Iterator[Item]:
            nonlocal next_sample, size, skip_below, last_pts, video_end
            pts = frame.pts
            if pts is None or (last_pts is not None and pts <= last_pts):
                return  # no timestamp, or a duplicate/out-of-order one
            if skip_below is None:
                skip_below = math.ceil(origin / vtb)
            if pts < skip_below:
                if last_pts is not None or pts * vtb >= origin:
                    rep.frames_decoded += 1
                    last_pts = pts
                return
            rep.frames_decoded += 1
            last_pts = pts
            t = pts * vtb - origin
            dur = frame.duration * vtb if frame.duration else nominal
            video_end = t + dur
            if step is not None:
                next_sample = (math.floor(t / step) + 1) * step
                skip_below = math.ceil((next_sample + origin) / vtb)
            if size is None:
                sar = video.codec_context.sample_aspect_ratio
                size = _output_size(frame.width, frame.height, Fraction(sar) if sar else None, cfg)
            image = to_rgb(frame, size[0], size[1])
            rep.frames_sampled += 1
            yield VideoFrame(pts, vtb, t, dur, np.ascontiguousarray(image))

        def audio_items(frame, flush: bool = False) -> Iterator[Item]:
            nonlocal resampler, clock, in_time, media_end
            if frame is not None:
                if frame.pts is None:
                    t = in_time if in_time is not None else Fraction(0)
                else:
                    t = frame.pts * frame.time_base - origin
                frame_dur = Fraction(frame.samples, frame.sample_rate)
                if in_time is not None and abs(t - in_time) > _AUDIO_JITTER:
                    # a gap (or overlap): drain the resampler, then restart the clock at t
                    yield from _drain()
                    resampler = None
                    start = seconds_to_samples(t)
                    if clock is not None and start > clock:
                        yield AudioClip(clock, np.zeros(start - clock, np.float32), missing=((clock, start),))
                    clock = max(start, clock or 0) if clock is not None else start
                in_time = t + frame_dur
                if clock is None:
                    clock = seconds_to_samples(t)
                if resampler is None:
                    resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
                frame.pts = None  # the sample clock above is the timing; let the resampler not second-guess it
                out = resampler.resample(frame)
                yield from _emit(out)
            if flush:
                yield from _drain()

        def _drain() -> Iterator[Item]:
            yield from _emit(resampler.resample(None) if resampler is not None else (), flush=True)

        pending: list[np.ndarray] = []  # resampled audio not yet handed on, contiguous from pending_start
        pending_start = 0

        def _emit(frames, flush: bool = False) -> Iterator[Item]:
            nonlocal clock, media_end, pending_start
            for out in frames:
                # packed float mono: the first plane holds exactly the samples (no copy)
                samples = np.frombuffer(out.planes[0], np.float32, count=out.samples)
                start = clock
                clock += len(samples)
                if clock <= 0:
                    continue
                if start < 0:  # audio before the origin
                    samples, start = samples[-start:], 0
                rep.audio_samples += len(samples)
                media_end = max(media_end, Fraction(clock, SAMPLE_RATE))
                if not pending:
                    pending_start = start
                pending.append(samples)
            # handed on in clips of at least _AUDIO_CHUNK samples: fewer, larger items downstream
            if pending and (flush or clock - pending_start >= _AUDIO_CHUNK):
                clip = AudioClip(pending_start, np.concatenate(pending))
                pending.clear()
                yield clip

        def subtitle_items(packet) -> Iterator[Item]:
            if packet.pts is None:
                return
            start = packet.pts * packet.time_base - origin
            end = start + (packet.duration * packet.time_base if packet.duration else Fraction(2))
            try:
                decoded = packet.decode()
            except av.error.FFmpegError:
                return
            for sub in decoded:
                texts = []
                for rect in getattr(sub, "rects", None) or [sub]:
                    ass = getattr(rect, "ass", None)
                    if ass:
                        texts.append(ass_dialogue_text(ass.decode() if isinstance(ass, bytes) else ass))
                    elif getattr(rect, "text", None):
                        raw = rect.text
                        texts.append(plain_text(raw.decode() if isinstance(raw, bytes) else raw))
                text = " ".join(t for t in texts if t)
                if text and end > 0:
                    rep.subtitle_cues += 1
                    yield TextSegment(max(start, Fraction(0)), end, text, "subtitle")

        def damage(packet, exc) -> Damage:
            rep.decode_errors += 1
            if packet.pts is not None:
                start = max(Fraction(0), packet.pts * packet.time_base - origin)
            else:
                start = position
            dur = packet.duration * packet.time_base if packet.duration else Fraction(1, 25)
            reason = f"{packet.stream.type} decode error: {getattr(exc, 'strerror', None) or exc}"
            rep.damaged.append((float(start), float(start + dur), reason))
            return Damage(start, start + dur, reason)

        demux = container.demux(wanted)
        while True:
            try:
                packet = next(demux)
            except StopIteration:
                break
            except av.error.EOFError:
                break
            except av.error.FFmpegError as exc:
                # a read error inside the file: note it and try to resynchronise
                failed_reads += 1
                rep.decode_errors += 1
                if failed_reads > 50:
                    rep.truncated = True
                    rep.damaged.append((float(position), float(position), f"read error: {exc}"))
                    yield Damage(position, position, f"read error, gave up: {exc}")
                    break
                demux = container.demux(wanted)
                continue
            stream = packet.stream
            if packet.pts is not None:
                position = max(position, packet.pts * packet.time_base - origin)
            elif packet.dts is not None:
                position = max(position, packet.dts * packet.time_base - origin)
            if stream.type == "subtitle":
                yield from subtitle_items(packet)
                continue
            try:
                frames = packet.decode()
            except av.error.FFmpegError as exc:
                if packet.size:
                    yield damage(packet, exc)
                continue
            if packet.is_corrupt and packet.size:
                yield damage(packet, ValueError("packet flagged corrupt"))
            for frame in frames:
                if stream.type == "video":
                    yield from video_items(frame)
                else:
                    yield from audio_items(frame)
            if subs:
                yield StreamBound("text", max(Fraction(0), position - _SUBTITLE_SLACK))
            total = rep.frames_decoded + rep.decode_errors
            if rep.decode_errors > 20 and rep.decode_errors > cfg.max_corrupt_fraction * total:
                raise MediaDecodeError(f"{self.source.display}: more than {cfg.max_corrupt_fraction:.0%} of the "
                                       "packets are corrupt; the file is damaged beyond use")
        # flush decoders (packets with no data drain the codec's delayed frames)
        for stream in (video, audio):
            if stream is None:
                continue
            try:
                for frame in stream.codec_context.decode(None):
                    yield from (video_items(frame) if stream is video else audio_items(frame))
            except av.error.FFmpegError as exc:  # EOF on an already drained decoder
                log.debug("flush of %s: %s", stream.type, exc)
        if audio is not None:
            yield from audio_items(None, flush=True)
        for stream in ("video", "audio", "text"):
            if (stream == "video" and video is not None) or (stream == "audio" and audio is not None) \
                    or (stream == "text" and subs):
                yield StreamClosed(stream)
        if last_pts is not None:  # the last decoded frame, sampled or not, ends the video
            last_t = last_pts * vtb - origin
            video_end = max(video_end, last_t + nominal)
        media_end = max(media_end, video_end)
        rep.media_end = float(media_end)
        if rep.duration and container.format.name.split(",")[0] in ("mov", "matroska", "flac", "wav", "ogg"):
            if media_end < Fraction(rep.duration).limit_denominator(1000) - Fraction(1, 2):
                rep.truncated = True
        if rep.truncated:
            rep.damaged.append((float(media_end), float(rep.duration or media_end), "file ends early (truncated)"))
