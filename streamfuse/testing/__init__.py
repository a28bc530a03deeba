"""Helpers for testing streamfuse and your own stages: tiny media fixtures with known truth."""

from .media import (
    make_audio_only_clip,
    make_av_sync_clip,
    make_beep_clip,
    make_corrupt_clip,
    make_delayed_audio_clip,
    make_nonzero_start_clip,
    make_not_media,
    make_one_pixel_high_clip,
    make_sample_clip,
    make_silence_clip,
    make_single_frame_clip,
    make_subtitled_clip,
    make_truncated_clip,
    make_vfr_clip,
    make_video_only_clip,
)
from .factory import ClipFactory
from .perception import make_bench_clip, make_flash_not_cut_clip, make_hard_cut_clip, make_shape_clip
from .splice import Shot, make_spliced_clip
from .truth import Cue, Truth

__all__ = [
    "ClipFactory",
    "Cue",
    "Shot",
    "Truth",
    "make_audio_only_clip",
    "make_av_sync_clip",
    "make_beep_clip",
    "make_bench_clip",
    "make_corrupt_clip",
    "make_delayed_audio_clip",
    "make_flash_not_cut_clip",
    "make_hard_cut_clip",
    "make_nonzero_start_clip",
    "make_not_media",
    "make_one_pixel_high_clip",
    "make_sample_clip",
    "make_shape_clip",
    "make_silence_clip",
    "make_single_frame_clip",
    "make_spliced_clip",
    "make_subtitled_clip",
    "make_truncated_clip",
    "make_vfr_clip",
    "make_video_only_clip",
]
