"""Learned fusion models: what a user relies on when training, saving and running one.

Shapes and masks (padding and a missing modality change nothing they should not), attribution
shares, determinism per seed, the saved folder round trip and its errors, and learning itself: a
task that needs both modalities, and the auxiliary-loss remedy for modality imbalance.
"""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pytest
import torch

import _synth as S
from streamfuse.encode.base import Features, FeatureSeries
from streamfuse.errors import ConfigError, ModelLoadError, UserInputError
from streamfuse.fuse.learned.config import TrainConfig
from streamfuse.fuse.learned.inputs import Tokens, collate, from_features
from streamfuse.fuse.learned.io import load_model, save_model
from streamfuse.fuse.learned.metrics import scores
from streamfuse.fuse.learned.models import build_model
from streamfuse.fuse.learned.train import calibrate, modality_dropout, predict, train

torch.set_num_threads(1)
KINDS = ["early", "late", "hybrid"]
FAST = TrainConfig(epochs=20, batch_size=32, lr=3e-3)


@pytest.fixture(scope="module")
def task():
    return S.both_needed(240, 0), S.both_needed(80, 1), S.both_needed(160, 2)


@pytest.fixture(scope="module")
def trained(task):
    (tr, va, _) = task
    return {kind: train(S.config(kind), FAST, *tr, *va).model for kind in KINDS}


def accuracy(model, examples, labels):
    return float(np.mean(predict(model, examples, attribution=False).probs.argmax(1) == np.asarray(labels)))


@pytest.mark.parametrize("kind", KINDS)
def test_outputs_have_one_row_per_window(kind, task):
    cfg = S.config(kind)
    model = build_model(cfg).eval()
    out = model(collate(task[0][0][:5], cfg))
    assert out.logits.shape == (5, 4)
    assert out.embedding.shape == (5, cfg.dim)
    assert out.unimodal.shape == (5, 2, 4)


@pytest.mark.parametrize("kind", KINDS)
def test_padding_changes_nothing(kind, task):
    """A window scored alone or beside a longer one (so padded) gets the same scores."""
    cfg = S.config(kind)
    model = build_model(cfg).eval()
    short = dict(task[0][0][0])
    short["mic.scores"] = Tokens(short["mic.scores"].values[:2], short["mic.scores"].times[:2])
    longer = task[0][0][1]
    alone = model(collate([short], cfg)).logits
    padded = model(collate([short, longer], cfg)).logits[:1]
    torch.testing.assert_close(alone, padded, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
def test_a_missing_modality_takes_no_part(kind, task):
    """Without its audio stream a window is scored on video alone; whatever audio values sit behind
    the mask do not matter."""
    cfg = S.config(kind)
    model = build_model(cfg).eval()
    examples = task[0][0][:4]
    batch = collate(S.video_only(examples), cfg)
    assert batch.present[:, 0].all() and not batch.present[:, 1].any()
    noisy = collate([{**e, "mic.scores": Tokens(e["mic.scores"].values * 100, e["mic.scores"].times)}
                     for e in examples], cfg)
    hidden = noisy.without(torch.tensor([[False, True]] * 4))
    torch.testing.assert_close(model(batch).logits, model(hidden).logits, atol=1e-5, rtol=1e-5)
    assert torch.isfinite(model(batch).logits).all()


@pytest.mark.parametrize("kind", KINDS)
def test_attribution_shares_sum_to_one_over_present_modalities(kind, trained, task):
    examples = task[2][0][:20]
    mixed = examples[:10] + S.audio_only(examples[10:])
    att = predict(trained[kind], mixed).attribution
    np.testing.assert_allclose(att.sum(1), 1.0, atol=1e-5)
    assert (att >= 0).all()
    np.testing.assert_allclose(att[10:, 0], 0.0)  # video absent: no share


def test_attribution_names_the_modality_that_decided(task):
    """Video alone decides a window's class when audio is uninformative: video gets the larger share."""
    tr, va, te = S.imbalanced(200, 0), S.imbalanced(60, 1), S.imbalanced(60, 2)
    model = train(S.config("late", classes=("x", "y")), TrainConfig(epochs=10, aux_weight=0.5), *tr, *va).model
    att = predict(model, te[0]).attribution
    assert att[:, 0].mean() > 0.6


@pytest.mark.parametrize("kind", KINDS)
def test_the_model_learns_a_task_that_needs_both_modalities(kind, trained, task):
    """class = audio bit x video bit: each modality alone gets at most half right, both nearly all."""
    te, labels = task[2]
    model = trained[kind]
    assert accuracy(model, te, labels) > 0.9
    assert accuracy(model, S.video_only(te), labels) < 0.65
    assert accuracy(model, S.audio_only(te), labels) < 0.65


def test_training_is_deterministic_for_a_seed(task):
    tr, va, _ = task
    cfg, settings = S.config("hybrid"), TrainConfig(epochs=2, batch_size=32)
    a, b = train(cfg, settings, *tr, *va).model, train(cfg, settings, *tr, *va).model
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(x, y), name
    c = train(S.config("hybrid", seed=1), settings, *tr, *va).model
    assert not torch.equal(a.head.weight, c.head.weight)


def test_modality_dropout_keeps_one_modality_of_every_window():
    present = torch.ones(500, 3, dtype=torch.bool)
    present[:100, 2] = False
    drop = modality_dropout(present, 0.9, torch.Generator().manual_seed(0))
    kept = present & ~drop
    assert kept.any(1).all()
    assert not (drop & ~present).any()
    assert drop.any()


def test_auxiliary_unimodal_losses_train_the_weaker_modality():
    """Joint training on a task the video solves at once leaves the audio branch under-trained; the
    auxiliary unimodal losses (the remedy) make the model usable when only audio is there (mean of
    two seeds: about 0.56 without, 0.75 with)."""
    without, remedied = [], []
    for seed in (0, 1):
        tr, va, te = S.imbalanced(300, 10 * seed), S.imbalanced(80, 10 * seed + 1), S.imbalanced(300, 10 * seed + 2)
        cfg = S.config("hybrid", classes=("x", "y"), modality_dropout=0.0, seed=seed)
        for aux, out in ((0.0, without), (1.0, remedied)):
            model = train(cfg, TrainConfig(epochs=10, patience=10, aux_weight=aux, seed=seed), *tr, *va).model
            out.append(accuracy(model, S.audio_only(te[0]), te[1]))
            assert accuracy(model, *te) > 0.95  # with both modalities, both are right
    a0, a1 = np.mean(without), np.mean(remedied)
    assert a1 > 0.68 and a1 > a0 + 0.1, (without, remedied)


def test_calibration_lowers_the_validation_loss(trained, task):
    model = trained["hybrid"]
    batch = collate(task[1][0], model.config, task[1][1])
    t = calibrate(model, batch)
    with torch.no_grad():
        logits = model(batch).logits
    assert torch.nn.functional.cross_entropy(logits / t, batch.labels) <= \
        torch.nn.functional.cross_entropy(logits, batch.labels) + 1e-6


@pytest.mark.parametrize("kind", KINDS)
def test_a_saved_model_loads_and_scores_the_same(kind, trained, task, tmp_path):
    model = trained[kind]
    save_model(tmp_path / "m", model, {"encoders": ["cam", "mic"]})
    loaded, meta = load_model(tmp_path / "m")
    assert meta == {"encoders": ["cam", "mic"]}
    assert float(loaded.temperature) == float(model.temperature)
    a, b = predict(model, task[2][0][:16]), predict(loaded, task[2][0][:16])
    np.testing.assert_array_equal(a.probs, b.probs)
    np.testing.assert_array_equal(a.attribution, b.attribution)


def test_late_product_of_experts_learns_too(task):
    tr, va, te = task
    model = train(S.config("late", combine="poe"), FAST, *tr, *va).model
    assert accuracy(model, *te) > 0.9


def _one_line(exc: Exception) -> str:
    text = str(exc)
    assert "\n" not in text and exc.exit_code == 2
    return text


def test_a_bad_model_folder_is_a_one_line_error(trained, tmp_path):
    with pytest.raises(ModelLoadError) as e:
        load_model(tmp_path / "nothing")
    assert "streamfuse train" in _one_line(e.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="config.json"):
        load_model(tmp_path / "empty")
    good = save_model(tmp_path / "m", trained["late"])
    (good / "config.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="not valid JSON"):
        load_model(good)
    good = save_model(tmp_path / "m", trained["late"])
    doc = json.loads((good / "config.json").read_text())
    doc["model"]["streams"][1]["dim"] = 7  # the weights were made for 4 audio features
    (good / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ModelLoadError) as e:
        load_model(good)
    assert "is (4,), config.json implies (7,)" in _one_line(e.value)
    (good / "model.safetensors").write_bytes(b"garbage")
    doc["model"]["streams"][1]["dim"] = 4
    (good / "config.json").write_text(json.dumps(doc))
    with pytest.raises(ModelLoadError, match="cannot be read"):
        load_model(good)


def test_a_stream_of_the_wrong_width_is_named(trained, task):
    example = dict(task[0][0][0])
    example["mic.scores"] = Tokens(np.zeros((3, 5), np.float32), np.zeros(3, np.float32))
    with pytest.raises(UserInputError, match="mic.scores has 5 features but the model expects 4"):
        predict(trained["hybrid"], [example])


def test_bad_model_settings_name_the_key():
    with pytest.raises(ConfigError, match="kind: 'middle' is not one of"):
        S.config("middle")
    with pytest.raises(ConfigError, match="at least 2 classes"):
        S.config(classes=("only",))
    with pytest.raises(ConfigError, match="multiple of heads"):
        S.config(dim=10, heads=4)


def test_streams_come_from_the_pipelines_features():
    """Sequences keep their times inside the window, embeddings and numeric summaries are one
    window-level token each, and features of a modality the window lacks are left out."""
    start, end = Fraction(10), Fraction(12)
    series = FeatureSeries((Fraction(10), Fraction(21, 2), Fraction(11)), np.ones((3, 5), np.float32), Fraction(1, 2))
    feats = [Features("tags", "audio", summary={"speech": True, "top": {}}, sequences={"scores": series},
                      embeddings={"scores": np.ones(5, np.float32)}),
             Features("text", "text", summary={"text": "hi"}, embeddings={"text": np.ones(8, np.float32)}),
             Features("faces", "video", summary={"faces": 2})]
    streams, kinds = from_features(feats, start, end, ["audio", "text"], summary_keys={"faces": ["faces"]})
    assert sorted(streams) == ["tags.scores", "tags.summary", "text.text"]
    np.testing.assert_allclose(streams["tags.scores"].times, [0.0, 0.25, 0.5])
    assert streams["text.text"].values.shape == (1, 8) and streams["text.text"].times[0] < 0
    assert streams["tags.summary"].values.tolist() == [[1.0]]
    assert kinds["text.text"] == "text"
    with_video, _ = from_features(feats, start, end, summary_keys={"faces": ["faces", "gone"]})
    assert with_video["faces.summary"].values.tolist() == [[2.0, 0.0]]


def test_scores_report_accuracy_and_f1_per_class():
    s = scores([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c", "unused"])
    assert s["accuracy"] == pytest.approx(0.6)
    assert s["per_class"] == pytest.approx({"a": 0.5, "b": 0.8, "c": 0.0})
    assert s["macro_f1"] == pytest.approx(1.3 / 3)


def _window_features(example, start):
    """The pipeline's Features that make ``example``'s streams for a 1 s window at ``start``."""
    cam = example["cam.summary"].values[0]
    mic = example["mic.scores"]
    times = tuple(start + Fraction(round(float(t) * 1000), 1000) for t in mic.times)
    return [Features("cam", "video", summary=dict(zip("abc", map(float, cam)))),
            Features("mic", "audio", sequences={"scores": FeatureSeries(times, mic.values, Fraction(1, 10))})]


def test_the_learned_fuser_turns_classes_into_durative_events_with_shares(trained, task, tmp_path):
    """Consecutive windows of one class are one ``fusion`` series (start ... end) whose evidence
    holds each modality's mean share; the background class makes no event."""
    from streamfuse.align.window import Window
    from streamfuse.config.loader import load_config
    from streamfuse.events import validate_event
    from streamfuse.fuse.stage import FusionStage

    save_model(tmp_path / "m", trained["hybrid"], {"background": "a", "name": "bits"})
    config = load_config(sets=[f"fusion.model={tmp_path / 'm'}", "fusion.gap=0", "window.length=1", "window.hop=1"])
    assert config.fusion.fusers == ["rules", "learned"]
    stage = FusionStage(config, "src", "clip")
    te, labels = task[2]
    want = [3] * 4 + [0] * 2 + [2] * 2  # d d d d, background twice, c c
    of = {c: [i for i, y in enumerate(labels) if y == c] for c in set(want)}
    picks = [of[c][j] for j, c in enumerate(want)]  # a different window each time
    events, records = [], []
    for k, i in enumerate(picks):
        window = Window("src", k, Fraction(k), Fraction(k + 1), Fraction(k + 1), has_video=True, has_audio=True,
                        final=k == len(picks) - 1)
        fused = stage(window, _window_features(te[i], Fraction(k)))
        events += [e for e in fused.events if e["type"] == "streamfuse.fusion"]
        records.append(fused.record["learned"])
        assert fused.embeddings["learned.embedding"].shape == (16,)
    assert [r["label"] for r in records] == [["a", "b", "c", "d"][c] for c in want]
    assert [(e["data"]["phase"], e["data"]["label"]) for e in events] == \
        [("start", "d"), ("end", "d"), ("start", "c"), ("end", "c")]
    assert events[1]["data"]["start"] == 0 and events[1]["data"]["end"] == 4
    for e in events:
        validate_event(e)
        shares = e["data"]["evidence"]["attribution"]
        assert set(shares) == {"video", "audio"} and sum(shares.values()) == pytest.approx(1, abs=1e-3)
        assert e["data"]["evidence"]["model"] == "bits"
    mean_video = np.mean([r["attribution"]["video"] for r in records[:4]])
    assert events[1]["data"]["evidence"]["attribution"]["video"] == pytest.approx(mean_video, abs=1e-3)
