"""Demux a source once and decode all its streams with PyAV.

:class:`Demuxer` yields, in demux order, timed payloads (:class:`VideoFrame`, :class:`AudioClip`,
:class:`TextSegment`) and stream-bound markers (:class:`StreamBound`, :class:`StreamClosed`) that
the aligner synchronises on, plus :class:`Damage` for corrupt stretches it skipped. Times are exact:
``pts * time_base - origin`` as Fractions, where ``origin`` is the earliest start of the decoded
streams, so media time starts at 0. Video frames are sampled at the analysis rate by timestamp,
never by counting frames (:mod:`.video_sampler`); audio runs on one sample clock
(:mod:`.audio_clock`); subtitles come from a sidecar file or an embedded text stream
(:mod:`.subtitles`). Packets come from :mod:`.packet_reader`, which resynchronises past damage;
headers are checked against :mod:`.limits` before anything is allocated from them. The item types
live in :mod:`.items` and are importable from here.
"""

from __future__ import annotations

import logging
from fractions import Fraction
from typing import Any, Callable, Iterator

import av

from ..config.pipeline import DecodeConfig
from ..errors import MediaDecodeError, SourceNotFoundError, SourceUnreachableError, UnsupportedSourceError
from ..sources.resolve import Source
from .audio_clock import AudioClock, FrameRejected
from .items import Damage, DemuxReport, Item, StreamBound, StreamClosed
from .limits import audio_problem, video_problem
from .packet_reader import DAMAGE_FALLBACK, PacketReader
from .payloads import TextSegment
from .subtitles import TEXT_CODECS, CueLimit, packet_segments, read_sidecar
from .video_sampler import VideoSampler

log = logging.getLogger(__name__)

#: embedded subtitle packets may be muxed this much ahead of or behind the other streams
_SUBTITLE_SLACK = Fraction(1)
#: decode errors below this count never end a file (the corrupt-share check starts after it)
_MIN_ERRORS_TO_GIVE_UP = 20
#: containers whose stated duration is an index, so media ending well before it means truncation
_INDEXED_FORMATS = ("mov", "matroska", "flac", "wav", "ogg")


def open_container(source: Source, timeout: float = 15.0, options: dict[str, str] | None = None,
                   format: str | None = None, read_timeout: float | None = None,
                   url: str | None = None) -> av.container.InputContainer:
    """Open ``source`` with PyAV, turning FFmpeg's errors into one-line user errors.

    ``options`` are FFmpeg format/protocol options (e.g. low-latency flags for live feeds).
    ``timeout`` bounds opening; ``read_timeout`` (default: ``timeout``) bounds each later read.
    ``url``, when given, is opened instead of ``source.uri`` (a local relay of it); errors still
    name the source."""
    read_timeout = timeout if read_timeout is None else read_timeout
    url = url or source.uri
    opts: dict[str, str] = {}
    if "://" in url:
        opts = {"rw_timeout": str(int(read_timeout * 1_000_000))}
    opts.update(options or {})
    try:
        # metadata is decoded tolerantly: a damaged tag must not make the media unreadable
        return av.open(url, mode="r", format=format, options=opts, timeout=(timeout, read_timeout),
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
    network input; ``options`` and ``format`` go to FFmpeg, and ``url`` is what FFmpeg opens if not
    ``source.uri`` (a local relay of it). ``wrap``, when given, is called with
    the opened container and returns the object the pass reads from instead (it must offer the
    container's interface: a live reader wraps ``demux`` to watch every read)."""

    def __init__(self, source: Source, config: DecodeConfig, *, open_timeout: float = 15.0,
                 read_timeout: float | None = None, options: dict[str, str] | None = None,
                 format: str | None = None, wrap: Callable[[Any], Any] | None = None,
                 url: str | None = None) -> None:
        self.source = source
        self.config = config
        self.report = DemuxReport()
        self.origin = Fraction(0)  # set when the pass starts
        self.open_timeout = open_timeout
        self.read_timeout = read_timeout
        self.options = options
        self.format = format or source.format
        self.wrap = wrap
        self.url = url
        self._container = None
        self._sidecar = config.subtitles or (source.subtitles if config.sidecar_subtitles else None)

    def open(self) -> None:
        """Open the source now (errors surface here, before any model is loaded)."""
        if self._container is None:
            container = open_container(self.source, self.open_timeout, self.options, self.format,
                                       read_timeout=self.read_timeout, url=self.url)
            self._container = self.wrap(container) if self.wrap is not None else container

    def close(self) -> None:
        """Close a source that was opened but never read."""
        if self._container is not None:
            self._container.close()
            self._container = None

    def __iter__(self) -> Iterator[Item]:
        self.open()
        container, self._container = self._container, None
        self._reader: PacketReader | None = None
        try:
            yield from self._run(container)
        finally:
            container.close()
            if self._reader is not None:
                self._reader.close()

    # -- the pass ----------------------------------------------------------------------------

    def _run(self, container) -> Iterator[Item]:
        yield from self._start(container, *pick_streams(container))
        wanted = [d.stream for d in (self._video, self._audio) if d is not None] + self._subs
        self._reader = PacketReader(self.source, container, wanted, self.origin, self.report)
        yield from self._packets(self._reader)
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
        self._video_corrupt = False  # whether the last decoded video frame came with errors

    def _packets(self, reader: PacketReader) -> Iterator[Item]:
        """The packet loop: decode every packet the reader gives (it resynchronises after read
        errors and damage), skip and report what does not decode, give up on a file that is
        mostly damage."""
        cfg, rep = self.config, self.report
        decoded = 0  # audio and video packets that decoded without an error
        for packet in reader:
            if isinstance(packet, Damage):
                yield packet
                continue
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
            elif packet.size:
                decoded += 1
            yield from self._decoded(decoder, frames)
            if self._subs:
                yield StreamBound("text", max(Fraction(0), reader.position - _SUBTITLE_SLACK))
            total = decoded + rep.decode_errors
            if rep.decode_errors > _MIN_ERRORS_TO_GIVE_UP and rep.decode_errors > cfg.max_corrupt_fraction * total:
                raise MediaDecodeError(f"{self.source.display}: more than {cfg.max_corrupt_fraction:.0%} of the "
                                       "packets are corrupt; the file is damaged beyond use")

    def _admitted(self, segments) -> Iterator[TextSegment]:
        for seg in segments:
            seg = self._cues.admit(seg)
            if seg is not None:
                self.report.subtitle_cues += 1
                yield seg

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
                try:
                    yield from decoder.items(frame)
                except FrameRejected as exc:
                    yield self._frame_damaged(frame, decoder, str(exc))

    def _frame_damaged(self, frame, decoder, reason: str) -> Damage:
        """Count and report a damaged decoded frame (its own span, else from the read position)."""
        rep = self.report
        rep.decode_errors += 1
        start = self._reader.position
        if frame.pts is not None and frame.time_base is not None:
            start = max(Fraction(0), frame.pts * frame.time_base - self.origin)
        if decoder is self._video:
            dur = decoder.nominal
        else:
            dur = Fraction(frame.samples, frame.sample_rate) if frame.sample_rate > 0 else DAMAGE_FALLBACK
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
            start = self._reader.position
        dur = packet.duration * packet.time_base if packet.duration else DAMAGE_FALLBACK
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
        if self._reader.tail_damage is not None or self._left_out:
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
