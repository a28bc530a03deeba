"""What a generated test clip holds, stated from the generator's parameters, never by decoding it."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

Span = tuple[Fraction, Fraction]


@dataclass(frozen=True)
class Cue:
    """One subtitle cue shown during ``[start, end)`` seconds (exact, whole milliseconds)."""

    start: Fraction
    end: Fraction
    text: str


@dataclass(frozen=True)
class Truth:
    """The ground truth of one generated clip.

    Every time is an exact :class:`~fractions.Fraction` of a second **relative to** ``start``, the
    absolute media time (``pts * time_base``) of the clip's origin; a plain PyAV decode reports
    ``start + t`` as ``frame.time``. ``start`` is 0 except for :func:`make_nonzero_start_clip`.
    Spans are half-open ``[a, b)``.

    Video: ``frame_times`` lists the presentation time of every frame in order; each frame is shown
    until the next one, the last until ``duration``.

    Audio: the decoded stream's first sample is at ``audio_start`` and sample ``i`` at
    ``audio_start + i / sample_rate`` (see :meth:`sample_index`), to the sample, in every clip
    here: PCM and FLAC are exact anywhere, and AAC and Opus are in Matroska, Ogg, and MP4 starting
    at 0, because those containers record the encoder's priming samples and FFmpeg trims them on
    decode. In MPEG-TS the priming samples (1024 for AAC) are decoded as leading near-silence; the
    generators place them at ``[audio_start, audio_start + priming)`` so content times still hold
    exactly. Lossy codecs smear a sharp onset by a few
    milliseconds of pre-echo, so detect onsets by correlation or with a tolerance of ~10 ms, and
    their decoded stream may run past ``audio_end`` by up to two codec frames of near-silence
    (the encoder pads its last frame).

    Events: ``flash_times`` are the times of the first bright frame of each flash (exact frame
    times); ``beep_times`` the exact onset of each beep's first sample; ``cut_times`` the time of
    the first frame of each new scene; ``fade_spans`` the spans of fades to black and back inside
    one scene (not cuts); ``tone_spans`` and ``shape_spans`` the spans a tone sounds
    and a shape is visible; ``cues`` the subtitle cues, embedded as ``subtitle_codec`` and/or
    written to ``sidecar``. ``damaged`` and ``decodable_until`` are approximate; their generators
    say how approximate.
    """

    path: Path
    #: FFmpeg muxer name ("matroska", "mp4", "mpegts", "wav", ...); None when the file is not media.
    #: Codec names below are those a plain PyAV decode reports (``stream.codec.name``).
    container: str | None
    #: length of the content from ``start``: end of the last frame or of the last sample
    duration: Fraction
    start: Fraction = Fraction(0)
    video_codec: str | None = None
    width: int | None = None
    height: int | None = None
    #: nominal constant frame rate; None for variable frame rate or no video
    fps: Fraction | None = None
    frame_times: tuple[Fraction, ...] = ()
    audio_codec: str | None = None
    sample_rate: int | None = None
    channels: int | None = None
    audio_start: Fraction | None = None
    audio_end: Fraction | None = None
    flash_times: tuple[Fraction, ...] = ()
    beep_times: tuple[Fraction, ...] = ()
    cut_times: tuple[Fraction, ...] = ()
    fade_spans: tuple[Span, ...] = ()
    tone_spans: tuple[Span, ...] = ()
    shape_spans: tuple[Span, ...] = ()
    cues: tuple[Cue, ...] = ()
    #: codec of the embedded subtitle stream as PyAV names it ("srt" in .mkv, "mov_text" in .mp4)
    subtitle_codec: str | None = None
    sidecar: Path | None = None
    damaged: tuple[Span, ...] = ()
    decodable_until: Fraction | None = None
    notes: str = ""

    @property
    def has_video(self) -> bool:
        return self.video_codec is not None

    @property
    def has_audio(self) -> bool:
        return self.audio_codec is not None

    @property
    def video_start(self) -> Fraction | None:
        return self.frame_times[0] if self.frame_times else None

    def sample_index(self, t: Fraction) -> int:
        """Index into the decoded audio (counted from ``audio_start``) of the sample at time ``t``.

        Raises ``ValueError`` when the clip has no audio or ``t`` falls between two samples.
        """
        if self.audio_start is None or self.sample_rate is None:
            raise ValueError(f"{self.path.name} has no audio track")
        index = (Fraction(t) - self.audio_start) * self.sample_rate
        if index.denominator != 1:
            raise ValueError(f"t={t} is not on a sample of {self.path.name} ({self.sample_rate} Hz)")
        return int(index)
