"""Key-frame captions through ``models.caption`` (a tiny random BLIP loaded from a folder): when
they are made, that batching changes nothing, and that they reach windows.jsonl and the
description. Random weights: the words are noise; the plumbing is what is tested."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from streamfuse.align.window import Window
from streamfuse.config import load_config
from streamfuse.decode.payloads import VideoFrame
from streamfuse.encode.foundation.caption import CaptionEncoder
from streamfuse.errors import ModelLoadError
from streamfuse.testing import media as gen
from streamfuse.testing.run import run_pipeline

#: the bundled encoders these tests do not need, off (motion and loudness stay on)
QUIET = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
         "encoders.faces.enabled=false", "encoders.vad.enabled=false", "encoders.objects.enabled=false",
         "encoders.sounds.enabled=false")


def _feed(n: int = 8, cut_at: int = 4):
    """1 s windows of 4 fps frames: one picture, then another from window ``cut_at`` on."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 80, (24, 32, 3), dtype=np.uint8)
    b = rng.integers(170, 255, (24, 32, 3), dtype=np.uint8)
    step = Fraction(1, 4)
    out = []
    for i in range(n):
        frames = tuple(VideoFrame(i * 4 + j, step, i + j * step, step, a if i < cut_at else b) for j in range(4))
        out.append(Window("clip", i, Fraction(i), Fraction(i + 1), Fraction(i + 1), frames=frames, has_video=True))
    return out


def _encoder(folder, *sets):
    return CaptionEncoder(load_config(sets=[f"models.caption={folder}", *sets]).encoders.caption)


def test_captions_at_a_rate_are_batched_like_one_by_one(tiny_blip):
    one = _encoder(tiny_blip, "encoders.caption.rate=0.5")
    many = _encoder(tiny_blip, "encoders.caption.rate=0.5", "encoders.caption.frame_batch=3")
    singly = [one(w) for w in _feed()]
    batched = many.batch(_feed())
    assert [f.summary for f in singly] == [f.summary for f in batched]
    assert one.captioned == many.captioned == 4  # one every 2 s over 8 s
    assert [f.summary["fresh"] for f in singly] == [True, False] * 4
    assert all(isinstance(f.summary["caption"], str) and f.summary["caption"] for f in singly)
    # the key frame: the first at or after the middle of the owned span
    assert singly[2].summary["caption_time"] == 2.5


def test_captions_when_the_picture_changes(tiny_blip):
    enc = _encoder(tiny_blip, "encoders.caption.when=change")
    features = [enc(w) for w in _feed()]
    assert [f.summary["fresh"] for f in features] == [True, False, False, False, True, False, False, False]
    assert features[3].summary["caption_time"] == 0.5  # carried from the first


def test_a_missing_captioner_is_one_line(tmp_path):
    with pytest.raises(ModelLoadError, match=r"caption model .*no-such.* not available offline.*models\.caption"):
        _encoder(tmp_path / "no-such")


def test_captions_reach_windows_jsonl_and_the_description(tiny_blip, tmp_path):
    clip = gen.make_video_only_clip(tmp_path / "v.mkv", duration=3.0)
    result, _, windows = run_pipeline(clip.path, tmp_path / "out", *QUIET, f"models.caption={tiny_blip}",
                                      "encoders.caption.rate=1")
    assert result.ok, result.error
    video = [w for w in windows if w["modalities"] == ["video"]]
    assert video and all(w["video"]["caption"]["caption"] for w in video)
    for w in video:
        assert f"caption: '{w['video']['caption']['caption']}'".lower() in w["description"].lower()
        assert w["start"] <= w["video"]["caption"]["caption_time"] < w["end"] or not w["video"]["caption"]["fresh"]
