"""Audio-text (CLAP) and audio tags (AST) through ``models.audio_text`` / ``models.audio_tags``:
tiny random models loaded from folders. Random weights: shapes, batching, resampling and where
results go are tested, not the labels' truth."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from streamfuse.align.window import Window
from streamfuse.config import load_config
from streamfuse.decode.payloads import AudioClip
from streamfuse.encode.foundation.audio_tags import AudioTagsEncoder
from streamfuse.encode.foundation.audio_text import AudioTextEncoder
from streamfuse.errors import ModelLoadError
from streamfuse.testing import media as gen
from streamfuse.testing.run import run_pipeline
from streamfuse.testing.tiny_models import TAGS

#: the bundled encoders these tests do not need, off (motion and loudness stay on)
QUIET = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
         "encoders.faces.enabled=false", "encoders.vad.enabled=false", "encoders.objects.enabled=false",
         "encoders.sounds.enabled=false")

RATE = 16000


def _windows(n: int = 5, seconds: int = 2, silent: int = 3):
    rng = np.random.default_rng(0)
    out = []
    for i in range(n):
        samples = (rng.standard_normal(RATE * seconds) * 0.1).astype(np.float32)
        has = i != silent
        clip = AudioClip(i * RATE, samples, RATE) if has else None
        out.append(Window("clip", i, Fraction(i), Fraction(i + seconds), Fraction(i + 1), audio=clip,
                          has_audio=has))
    return out


def test_clap_audio_vectors_batched_equal_one_by_one(tiny_clap):
    sets = [f"models.audio_text={tiny_clap}", "encoders.audio_text.labels=[a dog, a bell, music]"]
    one = AudioTextEncoder(load_config(sets=sets).encoders.audio_text)
    many = AudioTextEncoder(load_config(sets=[*sets, "encoders.audio_text.clip_batch=2"]).encoders.audio_text)
    singly = [one(w) for w in _windows()]
    batched = many.batch(_windows())
    assert singly[3].embeddings == {} and batched[3].embeddings == {}  # no audio: nothing made up
    for a, b in zip(singly, batched):
        if a.embeddings:
            assert a.embeddings["audio"].shape == (16,) and abs(np.linalg.norm(a.embeddings["audio"]) - 1) < 1e-5
            np.testing.assert_allclose(a.embeddings["audio"], b.embeddings["audio"], atol=1e-5)
            assert [x for x, _ in a.labels] == [x for x, _ in b.labels] and a.summary["label"] == a.labels[0][0]
    assert one.model.rate == 48000  # resampled from 16 kHz for the feature extractor


def test_ast_tags_batched_equal_one_by_one_and_name_its_classes(tiny_ast):
    sets = [f"models.audio_tags={tiny_ast}", "encoders.audio_tags.top_labels=3"]
    one = AudioTagsEncoder(load_config(sets=sets).encoders.audio_tags)
    many = AudioTagsEncoder(load_config(sets=[*sets, "encoders.audio_tags.clip_batch=4"]).encoders.audio_tags)
    singly = [one(w) for w in _windows()]
    batched = many.batch(_windows())
    assert one.model.sigmoid  # a multi-label model: independent scores
    for a, b in zip(singly, batched):
        assert [x for x, _ in a.labels] == [x for x, _ in b.labels]
        np.testing.assert_allclose([s for _, s in a.labels], [s for _, s in b.labels], atol=1e-4)
        if a.labels:
            assert len(a.labels) == 3 and {x for x, _ in a.labels} <= set(TAGS)
    assert singly[3].labels == ()


def test_missing_audio_models_are_one_line(tmp_path):
    for role, cls in (("audio_text", AudioTextEncoder), ("audio_tags", AudioTagsEncoder)):
        config = load_config(sets=[f"models.{role}={tmp_path / 'none'}"])
        with pytest.raises(ModelLoadError, match=rf"{role} model .* not available offline.*models\.{role}"):
            cls(config.encoders.section(role))


def test_audio_embeddings_and_tags_reach_windows_jsonl(tiny_clap, tiny_ast, tmp_path):
    truth = gen.make_av_sync_clip(tmp_path / "av.mkv", duration=3.0)
    result, _, windows = run_pipeline(truth.path, tmp_path / "out", *QUIET, f"models.audio_text={tiny_clap}",
                                      f"models.audio_tags={tiny_ast}", "encoders.audio_text.labels=[a beep, a dog]")
    assert result.ok, result.error
    audio = [w for w in windows if "audio" in w["modalities"]]
    assert audio
    for w in audio:
        assert "audio_text.audio" in w["embeddings"]
        assert {n for n, _ in w["labels"]["audio_text"]} == {"a beep", "a dog"}
        assert set(w["audio"]["audio_tags"]["top"]) <= set(TAGS) and w["labels"]["audio_tags"]
    # match scores the query against the audio embeddings with the same model
    from streamfuse.match import search

    moments = search([result.folder], "a dog barking", k=2)
    assert moments and all(m.via == "audio-text" and m.frame is None for m in moments)
