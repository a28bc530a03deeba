"""Demux a source once and decode all its streams with PyAV.

:class:`Demuxer` yields, in demux order, timed payloads (:class:`VideoFrame`, :class:`AudioClip`,
:class:`TextSegment`) and stream-bound markers (:class:`StreamBound`, :class:`StreamClosed`) that
the aligner synchronises on, plus :class:`Damage` for corrupt stretches it skipped. Times are exact:
``pts * time_base - origin`` as Fractions, where ``origin`` is the earliest start of the decoded
streams, so media time starts at 0. Video frames are sampled at the analysis rate by timestamp,
never by counting frames (:mod:`.video_sampler`); audio runs on one sample clock
(:mod:`.audio_clock`); subtitles come from a sidecar file or an embedded text stream
(:mod:`.subtitles`).
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Iterator, Union

import av

from ..config.pipeline import DecodeConfig
from ..errors import MediaDecodeError, SourceNotFoundError, SourceUnreachableError, UnsupportedSourceError
from ..sources.resolve import Source
from . import mkv_resync
from .audio_clock import AudioClock
from .limits import audio_problem, video_problem
from .payloads import AudioClip, TextSegment, VideoFrame
from .subtitles import TEXT_CODECS, CueLimit, packet_segments, read_sidecar
from .video_sampler import VideoSampler

log = logging.getLogger(__name__)

#: embedded subtitle packets may be muxed this much ahead of or behind the other streams
_SUBTITLE_SLACK = Fraction(1)
#: a packet that fails to decode and states no duration is taken to cover this much media time
_DAMAGE_FALLBACK = Fraction(1, 25)
#: read errors in a row after which the rest of the file is given up as unreadable
_MAX_FAILED_READS = 50
#: decode errors below this count never end a file (the corrupt-share check starts after it)
_MIN_ERRORS_TO_GIVE_UP = 20
#: resynchronisations past damage in one Matroska file, at most
_MAX_RESYNCS = 100
#: blocks read after a resync may start this much before where reading had got to (B-frames)
_RESUME_SLACK = Fraction(1, 2)
#: a Matroska packet starting this many bytes after the previous one ended means FFmpeg skipped
#: damaged data (intact files leave a few dozen bytes of element headers between packets)
_MKV_GAP = 1024
#: containers whose stated duration is an index, so media ending well before it means truncation
_INDEXED_FORMATS = ("mov", "matroska", "flac", "wav", "ogg")


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
    #: one-line notes for the user about what was left out and why (a stream with an impossible
    #: header, subtitle cues outside the media or past the cap, ...); the rest was analysed
    warnings: list[str] = field(default_factory=list)

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
        # metadata is decoded tolerantly: a damaged tag must not make the media unreadable
        return av.open(source.uri, mode="r", format=format, options=opts, timeout=(timeout, read_timeout),
                       metadata_errors="replace")
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
        if "://" not in source.uri:  # a local file: nothing to connect to
            raise UnsupportedSourceError(f"{source.display}: FFmpeg cannot open it "
                                         f"({getattr(exc, 'strerror', None) or exc}); the file may be damaged") from None
        raise SourceUnreachableError(f"{source.display}: cannot connect ({getattr(exc, 'strerror', None) or exc}); "
                                     "check the address and that the server is up") from None
    except av.error.ExitError:  # PyAV's open timeout interrupted FFmpeg
        raise SourceUnreachableError(f"{source.display}: no readable media arrived within {timeout:g} s; check the "
                                     "address and that the feed is sending") from None
    except av.error.FFmpegError as exc:
        raise UnsupportedSourceError(f"{source.display}: FFmpeg cannot open it ({exc.strerror or exc})") from None


def pick_streams(container: av.container.InputContainer):
    """The streams decoded: the first video stream that is not cover art, the first audio stream,
    and the first text subtitle stream (as a list of at most one)."""
    video = next((s for s in container.streams.video
                  if not (s.disposition & av.stream.Disposition.attached_pic)), None)
    audio = container.streams.audio[0] if container.streams.audio else None
    subs = [s for s in container.streams.subtitles if s.codec_context is not None and s.codec_context.name in TEXT_CODECS]
    return video, audio, subs[:1]


def media_origin(container: av.container.InputContainer, streams) -> Fraction:
    """Where media time 0 is: the earliest start of the decoded audio/video streams (else the container's)."""
    starts = [s.start_time * s.time_base for s in streams if s is not None and s.start_time is not None
              and s.type in ("video", "audio")]
    if starts:
        return min(starts)
    if container.start_time is not None:
        return Fraction(container.start_time, 1_000_000)
    return Fraction(0)


class Demuxer:
    """Iterate the timed items of one source. One pass over the container for all streams.

    ``open_timeout`` bounds opening and ``read_timeout`` (default: the same) each later read of a
    network input; ``options`` and ``format`` go to FFmpeg. ``wrap``, when given, is called with
    the opened container and returns the object the pass reads from instead (it must offer the
    container's interface: a live reader wraps ``demux`` to watch every read)."""

    def __init__(self, source: Source, config: DecodeConfig, *, open_timeout: float = 15.0,
                 read_timeout: float | None = None, options: dict[str, str] | None = None,
                 format: str | None = None, wrap: Callable[[Any], Any] | None = None) -> None:
        self.source = source
        self.config = config
        self.report = DemuxReport()
        self.origin = Fraction(0)  # set when the pass starts
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.options = options
        self.format = format or source.format
        self.wrap = wrap
        self._container = None
        self._sidecar = config.subtitles or (source.subtitles if config.sidecar_subtitles else None)

    def open(self) -> None:
        """Open the source now (errors surface here, before any model is loaded)."""
        if self._container is None:
            container = open_container(self.source, self.open_timeout, self.options, self.format,
                                       read_timeout=self.read_timeout)
            self._container = self.wrap(container) if self.wrap is not None else container

    def close(self) -> None:
        """Close a source that was opened but never read."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __iter__(self) -> Iterator[Item]:
        self.open()
        container, self._container = self._container, None
        self._resumed: list[mkv_resync.Resumed] = []  # views of a damaged file past its damage
        try:
            yield from self._run(container)
        finally:
            container.close()
            for resumed in self._resumed:
                resumed.close()

    # -- the pass ----------------------------------------------------------------------------

    def _run(self, container) -> Iterator[Item]:
        yield from self._start(container, *pick_streams(container))
        wanted = [d.stream for d in (self._video, self._audio) if d is not None] + self._subs
        yield from self._packets(container, wanted)
        yield from self._finish(container)

    def _usable(self, video, audio, subs):
        """The streams whose headers are plausible (see :mod:`.limits`); each one left out is
        reported in ``warnings``, and a source left with nothing is an error naming why."""
        problems = []
        for stream in (video, audio):
            if stream is not None and stream.codec_context is None:  # a codec id FFmpeg has no decoder for
                problems.append(f"the {stream.type} stream's codec is not one FFmpeg can decode")
        video = video if video is not None and video.codec_context is not None else None
        audio = audio if audio is not None and audio.codec_context is not None else None
        if video is not None:
            ctx = video.codec_context
            problem = video_problem(ctx.width, ctx.height)
            if problem is not None and not (self.source.live and ctx.width == 0 == ctx.height):
                problems.append(problem)
                video = None
        if audio is not None:
            ctx = audio.codec_context
            problem = audio_problem(ctx.sample_rate, ctx.channels)
            if problem is None and ctx.channels == 0 and not self.source.live:
                problem = ("the audio stream states no usable channel layout (missing, or more channels than "
                           "FFmpeg decodes, in its header)")
            if problem is not None:
                problems.append(problem)
                audio = None
        if video is None and audio is None and not subs:
            if problems:
                raise UnsupportedSourceError(f"{self.source.display}: {'; '.join(problems)}")
            raise UnsupportedSourceError(f"{self.source.display}: has no video, audio or subtitle stream")
        self.report.warnings.extend(f"{p}; it was left out" for p in problems)
        self._left_out = bool(problems)
        return video, audio, subs

    def _start(self, container, video, audio, subs) -> Iterator[Item]:
        """Report what the container holds, set the origin and the per-stream decoders up, close
        the streams it lacks and hand on the sidecar cues."""
        rep = self.report
        rep.container = container.format.name
        rep.duration = container.duration / 1_000_000 if container.duration else None
        video, audio, subs = self._usable(video, audio, subs)
        self.origin = media_origin(container, [video, audio])
        self._video = VideoSampler(video, self.origin, self.config, rep) if video is not None else None
        if video is None:
            yield StreamClosed("video")
        self._audio = AudioClock(audio, self.origin, rep) if audio is not None else None
        if audio is None:
            yield StreamClosed("audio")
        self._subs = subs
        self._cues = CueLimit(Fraction(rep.duration).limit_denominator(1000) if rep.duration else None)
        sidecar = read_sidecar(self._sidecar) if self._sidecar else []
        if sidecar or subs:
            rep.streams.append("text")
        yield from self._admitted(sidecar)
        if not subs:
            yield StreamClosed("text")
        self._position = Fraction(0)  # how far the demuxed packets have reached, in media time
        self._last_time = Fraction(0)  # the time of the last packet with one
        self._video_corrupt = False  # whether the last decoded video frame came with errors
        self._tail_damage: Damage | None = None  # the file is unreadable from here on (damaged, not cut short)

    def _packets(self, container, wanted) -> Iterator[Item]:
        """The packet loop: decode every packet of the ``wanted`` streams, skip (and report) what
        does not decode, resynchronise after read errors and damage."""
        cfg, rep = self.config, self.report
        for packet in self._read(container, wanted):
            if isinstance(packet, Damage):
                yield packet
                continue
            self._advance(packet)
            if packet.stream.type == "subtitle":
                yield from self._admitted(packet_segments(packet, self.origin))
                continue
            decoder = self._video if packet.stream.type == "video" else self._audio
            try:
                # the decoder of the stream first opened: after a resync the packets come from a
                # second container, and the decoder keeps its state (references, sample clock)
                frames = decoder.stream.codec_context.decode(packet)
            except av.error.FFmpegError as exc:
                if packet.size:
                    yield self._damaged(packet, exc)
                continue
            if packet.is_corrupt and packet.size:
                yield self._damaged(packet, ValueError("packet flagged corrupt"))
            yield from self._decoded(decoder, frames)
            if self._subs:
                yield StreamBound("text", max(Fraction(0), self._position - _SUBTITLE_SLACK))
            total = rep.frames_decoded + rep.decode_errors
            if rep.decode_errors > _MIN_ERRORS_TO_GIVE_UP and rep.decode_errors > cfg.max_corrupt_fraction * total:
                raise MediaDecodeError(f"{self.source.display}: more than {cfg.max_corrupt_fraction:.0%} of the "
                                       "packets are corrupt; the file is damaged beyond use")

    def _read(self, container, wanted) -> Iterator[av.Packet | Damage]:
        """The packets of the ``wanted`` streams in demux order. A read error is retried (FFmpeg
        resynchronises) up to ``_MAX_FAILED_READS`` times in a row. In a local Matroska file,
        bytes FFmpeg skipped are reported as damage, and where it stops before the end of the
        media the rest is read from the next intact block (:mod:`.mkv_resync`)."""
        rep = self.report
        mkv = (container.format.name.split(",")[0] == "matroska" and "://" not in self.source.uri
               and not self.source.live and os.path.isfile(self.source.uri))
        indexes = {s.index for s in wanted}
        file_offset = None  # maps packet positions of a resumed view back to the file's
        byte_end = None  # where the last packet read ended, in the file
        resumed_from: tuple[Fraction, Fraction, int] | None = None  # (last time, furthest time, bytes skipped)
        for _ in range(_MAX_RESYNCS + 1):
            failed_reads = 0
            flushes: list[av.Packet] = []
            demux = container.demux() if mkv else container.demux(wanted)
            while True:
                try:
                    packet = next(demux)
                except (StopIteration, av.error.EOFError):
                    break
                except av.error.FFmpegError as exc:
                    # a read error inside the file: note it and try to resynchronise
                    failed_reads += 1
                    rep.decode_errors += 1
                    if failed_reads > _MAX_FAILED_READS:
                        rep.truncated = True
                        rep.damaged.append((float(self._position), float(self._position), f"read error: {exc}"))
                        yield Damage(self._position, self._position, f"read error, gave up: {exc}")
                        return
                    demux = container.demux() if mkv else container.demux(wanted)
                    continue
                failed_reads = 0
                if mkv and not packet.size and packet.pts is None:
                    flushes.append(packet)  # PyAV's end-of-stream packets: held until no resync follows
                    continue
                if mkv and packet.pos is not None and packet.pos >= 0 and packet.size:
                    pos = file_offset(packet.pos) if file_offset else packet.pos
                    if resumed_from is None and byte_end is not None and pos > byte_end + _MKV_GAP:
                        resumed_from = (self._last_time, self._position, pos - byte_end)
                    byte_end = pos + packet.size
                if packet.stream.index not in indexes:
                    continue
                if resumed_from is not None:
                    damage = self._skipped(packet, *resumed_from)
                    if damage is not None:
                        resumed_from = None
                        yield damage
                yield packet
            resumed = self._resume(byte_end, container.streams) if mkv and byte_end is not None else None
            if resumed is None:
                yield from (p for p in flushes if p.stream.index in indexes)
                if self._tail_damage is not None:
                    yield self._tail_damage
                return
            self._resumed.append(resumed)
            container, file_offset = resumed.container, resumed.file_offset
            wanted = [container.streams[i] for i in sorted(indexes)]
            resumed_from = (self._last_time, self._position, 0)

    def _resume(self, byte_end: int, streams):
        """The rest of a Matroska file that FFmpeg stopped reading before its media ended, or None."""
        rep = self.report
        duration = Fraction(rep.duration).limit_denominator(1000) if rep.duration else None
        if duration is None or self._position >= duration - Fraction(1, 2):
            return None
        path = self.source.uri
        # resumed blocks must not go back in time past B-frame reordering (see resume_after)
        time_base = streams[0].time_base
        not_before = math.floor((self._position + self.origin - _RESUME_SLACK) / time_base)
        resume = mkv_resync.resume_after(path, byte_end, len(streams), not_before)
        if resume is None:
            if mkv_resync.runs_past_end(path, byte_end):
                return None  # cut short: reported as truncated
            reason = f"unreadable from byte {byte_end} to the end of the file"
            rep.decode_errors += 1
            rep.damaged.append((float(self._position), float(duration), reason))
            self._tail_damage = Damage(self._position, duration, reason)
            return None
        try:
            return mkv_resync.Resumed(path, resume)
        except (av.error.FFmpegError, OSError) as exc:
            log.debug("resuming %s at byte %d: %s", self.source.display, resume.offset, exc)
            return None

    def _skipped(self, packet: av.Packet, last: Fraction, furthest: Fraction, nbytes: int) -> Damage | None:
        """The damage around skipped bytes, given the time of the packet read ``last`` before them,
        the ``furthest`` time read by then, and ``packet``, the first read after them (None while
        packets come without timestamps). Frames are stored out of presentation order (B-frames),
        so the span runs from the earlier to the later of those times, and one frame on."""
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            return None
        after = max(Fraction(0), ts * packet.time_base - self.origin)
        since = min(last, after)
        until = max(furthest, after) + _DAMAGE_FALLBACK
        reason = f"unreadable data skipped ({nbytes} bytes)" if nbytes else "unreadable data skipped"
        self.report.decode_errors += 1
        self.report.damaged.append((float(since), float(until), reason))
        return Damage(since, until, reason)

    def _admitted(self, segments) -> Iterator[TextSegment]:
        for seg in segments:
            seg = self._cues.admit(seg)
            if seg is not None:
                self.report.subtitle_cues += 1
                yield seg

    def _advance(self, packet: av.Packet) -> None:
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is not None:
            self._last_time = max(Fraction(0), ts * packet.time_base - self.origin)
            self._position = max(self._position, self._last_time)

    def _decoded(self, decoder, frames) -> Iterator[Item]:
        """The items of decoded ``frames``: a frame the decoder flagged corrupt (concealed errors) is
        used but reported as damage; a frame whose parameters are impossible is skipped as damage."""
        video = decoder is self._video
        for frame in frames:
            if video:
                problem = video_problem(frame.width, frame.height)
                self._video_corrupt = frame.is_corrupt
            else:
                problem = audio_problem(frame.sample_rate, frame.layout.nb_channels)
            if problem is not None or frame.is_corrupt:
                yield self._frame_damaged(frame, decoder, problem or "decoded with errors (concealed)")
            if problem is None:
                yield from decoder.items(frame)

    def _frame_damaged(self, frame, decoder, reason: str) -> Damage:
        """Count and report a damaged decoded frame (its own span, else from the read position)."""
        rep = self.report
        rep.decode_errors += 1
        start = self._position
        if frame.pts is not None and frame.time_base is not None:
            start = max(Fraction(0), frame.pts * frame.time_base - self.origin)
        if decoder is self._video:
            dur = decoder.nominal
        else:
            dur = Fraction(frame.samples, frame.sample_rate) if frame.sample_rate > 0 else _DAMAGE_FALLBACK
        reason = f"{decoder.stream.type} frame {reason}"
        if rep.damaged and rep.damaged[-1][2] == reason and rep.damaged[-1][0] <= float(start) <= rep.damaged[-1][1]:
            rep.damaged[-1] = (rep.damaged[-1][0], max(rep.damaged[-1][1], float(start + dur)), reason)
        else:
            rep.damaged.append((float(start), float(start + dur), reason))
        return Damage(start, start + dur, reason)

    def _damaged(self, packet: av.Packet, exc: BaseException) -> Damage:
        """Count and report a packet that did not decode (its own span, else from the read position)."""
        self.report.decode_errors += 1
        if packet.pts is not None:
            start = max(Fraction(0), packet.pts * packet.time_base - self.origin)
        else:
            start = self._position
        dur = packet.duration * packet.time_base if packet.duration else _DAMAGE_FALLBACK
        reason = f"{packet.stream.type} decode error: {getattr(exc, 'strerror', None) or exc}"
        self.report.damaged.append((float(start), float(start + dur), reason))
        return Damage(start, start + dur, reason)

    def _finish(self, container) -> Iterator[Item]:
        """End of stream: drain the decoders, close the streams, and check the file was not cut short."""
        rep = self.report
        # flush decoders (packets with no data drain the codec's delayed frames)
        for decoder in (self._video, self._audio):
            if decoder is None:
                continue
            try:
                yield from self._decoded(decoder, decoder.stream.codec_context.decode(None))
            except av.error.FFmpegError as exc:  # EOF on an already drained decoder
                log.debug("flush of %s: %s", decoder.stream.type, exc)
        if self._audio is not None:
            yield from self._audio.flush()
        for stream, present in (("video", self._video), ("audio", self._audio), ("text", self._subs)):
            if present:
                yield StreamClosed(stream)
        media_end = max(self._audio.end if self._audio else Fraction(0), self._video.end if self._video else Fraction(0))
        rep.media_end = float(media_end)
        if self._tail_damage is not None or self._left_out:
            pass  # damaged, not cut short: reported as damage; or a stream left out, so shorter
        elif rep.duration and container.format.name.split(",")[0] in _INDEXED_FORMATS:
            if media_end < Fraction(rep.duration).limit_denominator(1000) - Fraction(1, 2):
                rep.truncated = True
        elif self._video_corrupt:
            # no index to check the length against, but the stream ends inside a picture: cut short
            rep.truncated = True
        rep.warnings.extend(self._cues.warnings())
        if rep.truncated:
            rep.damaged.append((float(media_end), max(float(media_end), rep.duration or 0.0), "file ends early (truncated)"))
