"""``streamfuse train`` / ``eval`` on labelled generated clips, and the trained model in the pipeline.

Clips with beeps against clips of silence, features from the pipeline's own cheap encoders (loudness
and voice activity); the feature cache makes a second training run no encoder; bad labels files are
one-line errors naming the row, exit 2; ``analyze --set fusion.model=DIR`` emits the model's classes
as durative ``fusion`` events carrying each modality's share, valid against the event schema.
"""

from __future__ import annotations

import json

import pytest
import torch

from streamfuse.cli.main import main
from streamfuse.events import validate_event
from streamfuse.testing.media import make_beep_clip, make_silence_clip

torch.set_num_threads(1)
ONLY_CHEAP = [f"encoders.{k}.enabled=false" for k in ("motion", "faces", "objects", "people", "sounds", "asr", "text")]
WINDOWS = ["window.length=1", "window.hop=1"]


def sets(*extra):
    return [x for s in (*ONLY_CHEAP, *WINDOWS, *extra) for x in ("--set", s)]


@pytest.fixture(scope="module")
def footage(tmp_path_factory):
    folder = tmp_path_factory.mktemp("labelled")
    rows = ["source,start,end,label"]
    for i in range(3):
        make_beep_clip(folder / f"beeps{i}.wav", beeps=[k * 0.25 for k in range(12)], duration=3.0, level=0.3 + 0.1 * i)
        make_silence_clip(folder / f"quiet{i}.wav", duration=3.0)
        rows += [f"beeps{i}.wav,0,3,beeps", f"quiet{i}.wav,0,3,quiet"]
    (folder / "labels.csv").write_text("\n".join(rows) + "\n")
    return folder


@pytest.fixture(scope="module")
def model(footage, tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "beeps-model"
    cache = footage / "cache"
    code = main(["train", "--labels", str(footage / "labels.csv"), "--fusion", "late", "-o", str(out),
                 "--epochs", "15", "--cache", str(cache), "--no-progress", *sets()])
    assert code == 0
    return out


def test_train_writes_a_model_folder_and_caches_features(model, footage, tmp_path, monkeypatch, capsys):
    doc = json.loads((model / "config.json").read_text())
    assert doc["model"]["classes"] == ["beeps", "quiet"]
    assert doc["meta"]["encoders"] == ["loudness", "vad"]
    assert len(doc["meta"]["val_sources"]) == 1 and len(doc["meta"]["train_sources"]) == 5
    assert (model / "model.safetensors").is_file()
    cached = sorted((footage / "cache").iterdir())
    assert len(cached) == 4  # by content: the three silent clips are one file

    import streamfuse.runtime.stages as stages

    def no_encoding(*a, **k):
        raise AssertionError("features were recomputed")

    monkeypatch.setattr(stages.EncodeStage, "__call__", no_encoding)
    code = main(["train", "--labels", str(footage / "labels.csv"), "--fusion", "hybrid", "-o", str(tmp_path / "h"),
                 "--epochs", "2", "--cache", str(footage / "cache"), "--no-progress", *sets()])
    assert code == 0 and sorted((footage / "cache").iterdir()) == cached
    assert "validation (1 source(s)" in capsys.readouterr().out


def test_eval_prints_accuracy_and_f1_per_class_as_json(model, footage, capsys):
    code = main(["eval", "--labels", str(footage / "labels.csv"), "--model", str(model), "--json",
                 "--cache", str(footage / "cache"), "--no-progress", *sets()])
    assert code == 0
    scores = json.loads(capsys.readouterr().out)
    assert set(scores) >= {"accuracy", "macro_f1", "per_class"}
    assert scores["accuracy"] > 0.9 and set(scores["per_class"]) == {"beeps", "quiet"}
    assert json.loads((model / "eval.json").read_text())["accuracy"] == scores["accuracy"]


@pytest.mark.parametrize("rows, message", [
    (["missing.wav,0,1,x"], "row 2: source missing.wav does not exist"),
    (["beeps0.wav,0,2,a", "beeps0.wav,1,3,b"], "rows 2 and 3: overlapping spans with different labels"),
    (["beeps0.wav,2,2,a"], "row 2: the span 2-2 s is empty"),
    (["beeps0.wav,0,3,a", "beeps1.wav,0,3,a"], "hold 1 class (a)"),
])
def test_a_bad_labels_file_is_a_one_line_error(rows, message, footage, tmp_path, capsys):
    labels = footage / f"bad-{abs(hash(message))}.csv"
    labels.write_text("\n".join(["source,start,end,label", *rows]) + "\n")
    code = main(["train", "--labels", str(labels), "-o", str(tmp_path / "m"), "--no-background",
                 "--cache", str(footage / "cache"), "--no-progress", *sets()])
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and "\n" not in err
    assert not (tmp_path / "m").exists()


def test_a_model_whose_features_do_not_match_the_encoders_is_refused(model, footage, tmp_path, capsys):
    clip = footage / "beeps0.wav"
    code = main(["analyze", str(clip), "-o", str(tmp_path), "--no-progress",
                 *sets("encoders.vad.enabled=false", f"fusion.model={model}")])
    err = capsys.readouterr().err
    assert code == 2 and "reads the encoder vad, which is not enabled" in err


def test_the_trained_model_runs_in_the_pipeline(model, footage, tmp_path):
    code = main(["analyze", str(footage / "beeps1.wav"), str(footage / "quiet1.wav"), "-o", str(tmp_path),
                 "--no-progress", *sets(f"fusion.model={model}")])
    assert code == 0
    for name, label in (("beeps1", "beeps"), ("quiet1", "quiet")):
        events = [json.loads(line) for line in (tmp_path / f"{name}.wav" / "events.jsonl").read_text().splitlines()]
        fused = [e for e in events if e["type"] == "streamfuse.fusion"]
        for e in fused:
            validate_event(e)
        assert [e["data"]["phase"] for e in fused] == ["start", "end"]
        assert fused[-1]["data"]["label"] == label
        assert fused[-1]["data"]["evidence"]["attribution"] == {"audio": 1.0}
        windows = [json.loads(line) for line in (tmp_path / f"{name}.wav" / "windows.jsonl").read_text().splitlines()]
        assert all(w["learned"]["label"] == label for w in windows)
        assert "learned.embedding" in windows[0]["embeddings"]


def test_compare_scores_each_modality_and_kind_over_three_seeds(footage, capsys):
    code = main(["eval", "--labels", str(footage / "labels.csv"), "--compare", "--json", "--epochs", "3",
                 "--cache", str(footage / "cache"), "--no-progress", *sets()])
    assert code == 0
    table = json.loads(capsys.readouterr().out)
    assert list(table) == ["audio only", "early", "late", "hybrid"]
    for row in table.values():
        assert 0 <= row["accuracy"]["mean"] <= 1 and row["accuracy"]["std"] >= 0 and "macro_f1" in row


def test_eval_refuses_labels_the_model_does_not_know(model, footage, capsys):
    labels = footage / "other-labels.csv"
    labels.write_text("source,start,end,label\nbeeps0.wav,0,3,whistle\nquiet0.wav,0,3,quiet\n")
    code = main(["eval", "--labels", str(labels), "--model", str(model), "--cache", str(footage / "cache"),
                 "--no-progress", *sets()])
    assert code == 2 and "label 'whistle' is not a class of the model" in capsys.readouterr().err
