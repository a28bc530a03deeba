"""Bounds on what a media header may claim, checked before anything is allocated from it.

A damaged or hostile header can claim a sample rate of 2^31 Hz, 1024 channels or a 100000 x 100000
picture; FFmpeg then tries to allocate gigabytes (or quietly leaves the stream unusable). Each
check returns ``None`` for a plausible value, else a one-line reason naming the value and the bound,
for the user's error or warning.
"""

from __future__ import annotations

#: sample rates real audio uses: 8 kHz telephony is the lowest common rate and 768 kHz the highest
#: any PCM format stores; a rate outside [1 kHz, 768 kHz] is a damaged header (resampling from it
#: would need a filter of gigabytes, or expand each frame ~16000-fold)
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 768_000
#: FFmpeg's resampler mixes at most this many channels down (SWR_CH_MAX)
MAX_CHANNELS = 64
#: the largest picture side any FFmpeg video codec produces (H.264/HEVC level limits stay below it)
MAX_SIDE = 16384
#: the largest picture decoded, in pixels: 8192 x 8192 (about 100 MB for one 4:2:0 frame)
MAX_PIXELS = 8192 * 8192


def audio_problem(sample_rate: int, channels: int) -> str | None:
    """Why audio at ``sample_rate`` Hz with ``channels`` channels cannot be decoded, or None."""
    if not MIN_SAMPLE_RATE <= sample_rate <= MAX_SAMPLE_RATE:
        return (f"the audio stream claims a sample rate of {sample_rate} Hz (real audio uses "
                f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz); its header is damaged")
    if channels > MAX_CHANNELS:
        return f"the audio stream has {channels} channels; at most {MAX_CHANNELS} can be mixed down"
    return None


def video_problem(width: int, height: int) -> str | None:
    """Why a ``width`` x ``height`` picture cannot be decoded, or None. A size of 0 is what FFmpeg
    leaves when the header states none, or one it refused as impossible."""
    if width <= 0 or height <= 0:
        return ("the video stream states no usable frame size (missing, or impossible and refused, "
                "in its header)")
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return (f"the video stream claims a frame size of {width}x{height} (at most {MAX_SIDE} pixels a "
                f"side and {MAX_PIXELS // 1_000_000} million pixels); its header is damaged")
    return None
