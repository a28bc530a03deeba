"""Writing a clip with PyAV: video frames at exact pts, one mono audio signal, text cues, muxed in time order.

The ``make_*`` generators in :mod:`streamfuse.testing.media` decide what each clip shows and
sounds like; this module only encodes it. No subprocess, no ffmpeg command line.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
from av.subtitles.subtitle import SubtitleSet

from .truth import Cue

#: muxer name for each file suffix the generators write
FORMATS = {
    ".mkv": "matroska", ".mka": "matroska", ".mp4": "mp4", ".m4a": "mp4", ".mov": "mov",
    ".ts": "mpegts", ".wav": "wav", ".flac": "flac", ".ogg": "ogg", ".opus": "ogg",
}  # fmt: skip

#: the finest video time base each muxer keeps (Matroska stores whole milliseconds)
VIDEO_TIME_BASES = {"matroska": Fraction(1, 1000), "mp4": Fraction(1, 90000),
                    "mov": Fraction(1, 90000), "mpegts": Fraction(1, 90000)}  # fmt: skip

#: muxers that do not record the audio encoder's priming samples, so a decoder outputs them
_KEEPS_PRIMING = {"mpegts"}
#: muxers that shift every stream when a DTS is negative, as B-frames make it from pts 0
_SHIFTS_NEGATIVE_DTS = {"mpegts"}

#: a minimal ASS header; FFmpeg's text subtitle encoders need one to open
_ASS_HEADER = (
    b"[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n"
    b"[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
    b"BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, "
    b"Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n"
    b"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n"
    b"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
)
_CUE_TIME_BASE = Fraction(1, 1000)
#: AV_CODEC_CAP_SMALL_LAST_FRAME and AV_CODEC_CAP_VARIABLE_FRAME_SIZE from libavcodec/codec.h
_SMALL_LAST_FRAME, _VARIABLE_FRAME_SIZE = 1 << 6, 1 << 16


def format_for(path: str | Path, allowed: Iterable[str] | None = None) -> str:
    """The muxer for ``path``'s suffix, checked against the suffixes a generator supports."""
    suffix = Path(path).suffix.lower()
    allowed = sorted(allowed if allowed is not None else FORMATS)
    if suffix not in allowed or suffix not in FORMATS:
        raise ValueError(f"cannot write {Path(path).name!r}: use one of the suffixes {', '.join(allowed)}")
    return FORMATS[suffix]


@dataclass
class VideoTrack:
    """Frames to encode: ``(pts, image)`` pairs in ``time_base``, images ``H x W x 3`` uint8 RGB
    (or the planar ``(H * 3 / 2) x W`` layout when ``input_format='yuv420p'``)."""

    width: int
    height: int
    frames: Iterable[tuple[int, np.ndarray]]
    time_base: Fraction
    rate: Fraction = Fraction(25)
    codec: str = "libx264"
    pix_fmt: str = "yuv420p"
    input_format: str = "rgb24"
    gop: int | None = None
    options: dict[str, str] = field(default_factory=lambda: {"preset": "veryfast"})


@dataclass
class AudioTrack:
    """A mono float32 signal whose sample 0 is at time ``start``; a decode outputs exactly that.

    In containers that keep the encoder's priming samples (MPEG-TS), the first ``priming`` samples
    of ``samples`` are replaced by the priming (keep them silent).
    """

    samples: np.ndarray
    sample_rate: int
    start: Fraction = Fraction(0)
    codec: str = "aac"

    def __post_init__(self) -> None:
        if self.samples.ndim != 1:
            raise ValueError(f"AudioTrack.samples must be mono (1-D), got shape {self.samples.shape}")
        if (self.start * self.sample_rate).denominator != 1:
            raise ValueError(f"audio start {self.start} s is not on a sample at {self.sample_rate} Hz")


@functools.lru_cache(maxsize=None)
def encoder_priming(codec: str, sample_rate: int) -> int:
    """Samples an audio encoder puts before the signal (its first packet's pts is ``-priming``)."""
    ctx = av.CodecContext.create(codec, "w")
    ctx.sample_rate = sample_rate
    ctx.layout = "mono"
    ctx.format = _sample_format(ctx.codec)
    ctx.time_base = Fraction(1, sample_rate)
    ctx.open()
    size = ctx.frame_size or 1024
    frame = av.AudioFrame.from_ndarray(_to_format(np.zeros(size, np.float32), ctx.format.name), format=ctx.format.name, layout="mono")
    frame.sample_rate, frame.pts, frame.time_base = sample_rate, 0, Fraction(1, sample_rate)
    packets = ctx.encode(frame) + ctx.encode(None)
    return max(0, -min(p.pts for p in packets)) if packets else 0


def _sample_format(codec: av.Codec) -> str:
    offered = [f.name for f in codec.audio_formats or ()]
    for name in ("fltp", "flt", "s16", "s16p", "s32", "s32p"):
        if name in offered:
            return name
    raise ValueError(f"no usable sample format for {codec.name}: it offers {offered}")


def _to_format(chunk: np.ndarray, fmt: str) -> np.ndarray:
    """A mono float chunk as the 1 x N array ``AudioFrame.from_ndarray`` wants for ``fmt``."""
    if fmt.startswith("s16"):
        chunk = np.round(np.clip(chunk, -1, 1) * 32767).astype(np.int16)
    elif fmt.startswith("s32"):
        chunk = np.round(np.clip(chunk, -1, 1) * 2147483392).astype(np.int32)
    else:
        chunk = chunk.astype(np.float32)
    return chunk[None, :]


def write_clip(
    path: str | Path,
    fmt: str,
    *,
    video: VideoTrack | None = None,
    audio: AudioTrack | None = None,
    cues: Iterable[Cue] = (),
    subtitle_codec: str | None = None,
    container_options: dict[str, str] | None = None,
) -> None:
    """Encode and mux the tracks into ``path`` with the ``fmt`` muxer, interleaved by time.

    A failure removes the half-written file.
    """
    try:
        _write(Path(path), fmt, video, audio, sorted(cues, key=lambda c: c.start), subtitle_codec, container_options)
    except BaseException:
        Path(path).unlink(missing_ok=True)
        raise


def _write(path, fmt, video, audio, cues, subtitle_codec, container_options) -> None:
    with av.open(str(path), "w", format=fmt, options=container_options or {}) as out:
        vstream = _add_video(out, video, no_b_frames=fmt in _SHIFTS_NEGATIVE_DTS) if video is not None else None
        astream = out.add_stream(audio.codec, rate=audio.sample_rate, layout="mono") if audio else None
        sstream = None
        if subtitle_codec is not None:
            sstream = out.add_stream(subtitle_codec)
            sstream.time_base = sstream.codec_context.time_base = _CUE_TIME_BASE
            sstream.codec_context.subtitle_header = _ASS_HEADER

        pending = []  # (time, stream, payload) of audio frames and cues, sorted by time
        if astream is not None:
            astream.codec_context.time_base = Fraction(1, audio.sample_rate)
            astream.codec_context.format = _sample_format(astream.codec_context.codec)
            pending += [(t, astream, f) for t, f in _audio_frames(audio, astream.codec_context, fmt)]
        pending += [(c.start, sstream, c) for c in cues] if sstream is not None else []
        pending.sort(key=lambda item: item[0])
        queue: Iterator = iter(pending)
        head = next(queue, None)

        def mux_until(t: Fraction | None) -> None:
            nonlocal head
            while head is not None and (t is None or head[0] <= t):
                _, stream, payload = head
                if stream is sstream:
                    out.mux(_cue_packet(stream, payload))
                else:
                    out.mux(stream.encode(payload))
                head = next(queue, None)

        if video is not None:
            for pts, image in video.frames:
                mux_until(pts * video.time_base)
                frame = av.VideoFrame.from_ndarray(image, format=video.input_format)
                frame.pts, frame.time_base = pts, video.time_base
                out.mux(vstream.encode(frame))
            out.mux(vstream.encode(None))
        mux_until(None)
        if astream is not None:
            out.mux(astream.encode(None))


def _add_video(out: av.container.OutputContainer, video: VideoTrack, no_b_frames: bool) -> av.VideoStream:
    options = dict(video.options, **({"bf": "0"} if no_b_frames else {}))
    stream = out.add_stream(video.codec, rate=video.rate, options=options)
    stream.width, stream.height, stream.pix_fmt = video.width, video.height, video.pix_fmt
    stream.time_base = stream.codec_context.time_base = video.time_base
    if video.gop is not None:
        stream.codec_context.gop_size = video.gop
    return stream


def _audio_frames(audio: AudioTrack, ctx: av.AudioCodecContext, fmt: str) -> list[tuple[Fraction, av.AudioFrame]]:
    """``(time, frame)`` pairs of the whole signal, cut into the encoder's frame size.

    The pts are the times the signal must have after decoding; in a muxer that keeps priming the
    signal's first ``priming`` samples make way for it.
    """
    rate, samples = audio.sample_rate, audio.samples
    first = int(audio.start * rate)
    if fmt in _KEEPS_PRIMING:
        skip = encoder_priming(audio.codec, rate)
        if np.any(samples[:skip]):
            raise ValueError(f"the first {skip} samples must be silent: {fmt} keeps {audio.codec}'s priming there")
        samples, first = samples[skip:], first + skip
    # encoders with a fixed frame size get exactly that; others 10 ms, a whole number of ms in Matroska
    size = ctx.frame_size or max(1, rate // 100)
    items = []
    for i in range(0, len(samples), size):
        chunk = samples[i : i + size]
        if len(chunk) < size and not ctx.codec.capabilities & (_SMALL_LAST_FRAME | _VARIABLE_FRAME_SIZE):
            chunk = np.pad(chunk, (0, size - len(chunk)))
        frame = av.AudioFrame.from_ndarray(_to_format(chunk, ctx.format.name), format=ctx.format.name, layout="mono")
        frame.sample_rate, frame.pts, frame.time_base = rate, first + i, Fraction(1, rate)
        items.append((Fraction(first + i, rate), frame))
    return items


def _cue_packet(stream: av.stream.Stream, cue: Cue) -> av.Packet:
    start = cue.start / _CUE_TIME_BASE
    length = (cue.end - cue.start) / _CUE_TIME_BASE
    if start.denominator != 1 or length.denominator != 1:
        raise ValueError(f"cue times must be whole milliseconds, got [{cue.start}, {cue.end})")
    text = cue.text.replace("\n", "\\N")
    subtitle = SubtitleSet.create(f"0,0,Default,,0,0,0,,{text}".encode(), 0, int(length), pts=int(start))
    packet = stream.codec_context.encode_subtitle(subtitle)
    packet.stream = stream
    packet.time_base = _CUE_TIME_BASE
    return packet


def quantize(t: Fraction, time_base: Fraction) -> int:
    """``t`` in ticks of ``time_base``, rounded to the nearest tick (ties up)."""
    return math.floor(t / time_base + Fraction(1, 2))
