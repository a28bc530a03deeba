"""Image-text matching through ``models.image_text``: a tiny random CLIP saved to a folder and
loaded the way users' models are. Random weights: these tests check where vectors, labels and
scores go and that batching and devices behave, not that the model is right."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from fractions import Fraction

import numpy as np
import pytest

from streamfuse import registry
from streamfuse.align.window import Window
from streamfuse.config import load_config
from streamfuse.decode.payloads import VideoFrame
from streamfuse.encode.foundation.image_text import ImageTextEncoder
from streamfuse.errors import ConfigError, ModelLoadError
from streamfuse.models import describe_models
from streamfuse.testing import media as gen
from streamfuse.testing.run import run_pipeline

#: the bundled encoders these tests do not need, off (motion and loudness stay on)
QUIET = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
         "encoders.faces.enabled=false", "encoders.vad.enabled=false", "encoders.objects.enabled=false",
         "encoders.sounds.enabled=false")


def _frames(n: int, fps: int = 4, seed: int = 1) -> list[VideoFrame]:
    rng = np.random.default_rng(seed)
    step = Fraction(1, fps)
    return [VideoFrame(i, step, i * step, step, rng.integers(0, 255, (24, 40, 3), dtype=np.uint8)) for i in range(n)]


def _windows(frames: list[VideoFrame], length: int = 2, hop: int = 1, total: int = 5) -> list[Window]:
    out = []
    for i in range(total):
        start, end = Fraction(i * hop), Fraction(i * hop + length)
        inside = tuple(f for f in frames if start <= f.time < end)
        out.append(Window("clip", i, start, end, start + hop, frames=inside, has_video=bool(inside),
                          final=i == total - 1))
    return out


def _encoder(folder, *sets: str) -> ImageTextEncoder:
    config = load_config(sets=[f"models.image_text={folder}", *sets])
    return ImageTextEncoder(config.encoders.image_text)


def test_models_role_key_sets_the_encoders_model_and_turns_it_on(tiny_clip):
    off = load_config()
    assert off.encoders.image_text.model is None and not off.encoders.image_text.enabled
    assert ImageTextEncoder not in [cls for cls, _ in registry.enabled(off.encoders)]
    on = load_config(sets=[f"models.image_text={tiny_clip}", "models.text=bundled:all-MiniLM-L6-v2"])
    assert on.encoders.image_text.model == str(tiny_clip) and on.encoders.image_text.enabled
    assert ImageTextEncoder in [cls for cls, _ in registry.enabled(on.encoders)]
    with pytest.raises(ConfigError, match=r"unknown config key 'models\.imagetext'; known roles: .*image_text"):
        load_config(sets=["models.imagetext=x"])
    with pytest.raises(ConfigError, match=r"encoders\.image_text\.enabled: true needs a model; set models\.image_text"):
        load_config(sets=["encoders.image_text.enabled=true"])


def test_models_lists_the_role_and_whether_it_is_there(tiny_clip, tmp_path):
    rows = {r["stage"]: r for r in describe_models(load_config())}
    assert rows["image_text"]["model"] == "not configured" and not rows["image_text"]["enabled"]
    rows = {r["stage"]: r for r in describe_models(load_config(sets=[f"models.image_text={tiny_clip}"]))}
    assert rows["image_text"]["available"] and rows["image_text"]["location"] == str(tiny_clip)
    rows = {r["stage"]: r for r in describe_models(load_config(sets=["models.image_text=nobody/no-such-clip"]))}
    assert not rows["image_text"]["available"] and "hf download nobody/no-such-clip" in rows["image_text"]["how"]


def test_a_missing_model_fails_at_once_with_one_line_naming_it(tmp_path):
    with pytest.raises(ModelLoadError, match=r"image_text model 'nobody/no-such-clip' is not available offline.*"
                                             r"models\.image_text"):
        _encoder("nobody/no-such-clip")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{}")
    with pytest.raises(ModelLoadError, match=r"image_text model .*broken.* failed to load"):
        _encoder(broken)
    clip = gen.make_video_only_clip(tmp_path / "v.mkv", duration=1.0)
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "streamfuse", "analyze", str(clip.path), "-o", str(tmp_path / "o"),
                           "--set", "models.image_text=nobody/no-such-clip"], capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == 2 and time.monotonic() - t0 < 60
    lines = [x for x in proc.stderr.splitlines() if x.strip()]
    assert len(lines) == 1 and "nobody/no-such-clip" in lines[0] and "hf download" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists() or not any(p.name.startswith("v.mkv") for p in (tmp_path / "o").iterdir())


def test_image_vectors_are_unit_and_batched_equals_one_by_one(tiny_clip):
    frames = _frames(20)
    one = _encoder(tiny_clip, "encoders.image_text.rate=2", "encoders.image_text.labels=[car, dog, cat]")
    many = _encoder(tiny_clip, "encoders.image_text.rate=2", "encoders.image_text.labels=[car, dog, cat]",
                    "encoders.image_text.frame_batch=3")
    assert one.device == "cpu"
    singly = [one(w) for w in _windows(frames)]
    batched = many.batch(_windows(frames))
    assert one.embedded_frames == many.embedded_frames == 10  # 2 per second over 5 s, each frame once
    for a, b in zip(singly, batched):
        assert a.summary["frames"] == b.summary["frames"]
        assert set(a.embeddings) == set(b.embeddings)
        for name in a.embeddings:
            assert a.embeddings[name].shape == (16,) and a.embeddings[name].dtype == np.float32
            assert abs(float(np.linalg.norm(a.embeddings[name])) - 1) < 1e-5
            np.testing.assert_allclose(a.embeddings[name], b.embeddings[name], atol=1e-5)
        assert [x for x, _ in a.labels] == [x for x, _ in b.labels]
        assert abs(sum(p for _, p in a.labels) - 1) < 1e-3  # all three labels kept: a distribution
    # a 2 s window at 2 embedded frames per second holds 4, at their exact times
    assert singly[1].summary["frames"] == [1.0, 1.5, 2.0, 2.5]
    assert [k for k in singly[1].embeddings if k.startswith("frame.")] == ["frame.0", "frame.1", "frame.2", "frame.3"]


def test_the_device_setting_is_honoured(tiny_clip):
    import torch

    enc = _encoder(tiny_clip, "encoders.image_text.device=cpu")
    assert enc.device == "cpu" and next(enc.model.model.parameters()).device.type == "cpu"
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"encoders\.image_text\.device: 'cuda' was asked for"):
            _encoder(tiny_clip, "encoders.image_text.device=cuda")
    else:  # a GPU machine: the model is there
        enc = _encoder(tiny_clip, "encoders.image_text.device=cuda")
        assert next(enc.model.model.parameters()).device.type == "cuda"


def test_ray_places_it_on_a_gpu_when_it_runs_on_cuda():
    spec = ImageTextEncoder.spec
    assert spec.resources.gpus > 0 and "cuda" in spec.resources.devices


def test_labels_and_embeddings_reach_windows_jsonl_and_the_sidecar(tiny_clip, tmp_path):
    from streamfuse.sinks.embeddings import load_embeddings

    clip = gen.make_video_only_clip(tmp_path / "v.mkv", duration=3.0)
    result, _, windows = run_pipeline(clip.path, tmp_path / "out", *QUIET, f"models.image_text={tiny_clip}",
                                      "encoders.image_text.labels=[car, dog, red box]")
    assert result.ok, result.error
    video = [w for w in windows if w["modalities"] == ["video"]]
    assert video
    for w in video:
        summary = w["video"]["image_text"]
        assert summary["frames"] and all(w["start"] <= t < w["end"] for t in summary["frames"])
        names = [n for n, _ in w["labels"]["image_text"]]
        assert sorted(names) == ["car", "dog", "red box"] and summary["label"] == names[0]
        assert f"ooks like {names[0]}" in w["description"]
        assert "image_text.image" in w["embeddings"]
    vectors, index = load_embeddings(result.folder, "image_text.image")
    assert vectors.shape == (len(video), 16) and list(index) == [w["index"] for w in video]


def test_match_prints_moments_from_the_image_text_path(tiny_clip, tmp_path):
    clip = gen.make_video_only_clip(tmp_path / "v.mkv", duration=4.0)
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "streamfuse", "match", str(clip.path), "a red car", "-k", "2", "--json",
           "-o", str(out), "--set", f"models.image_text={tiny_clip}"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    moments = [json.loads(x) for x in proc.stdout.splitlines()]
    assert len(moments) == 2 and moments[0]["score"] >= moments[1]["score"]
    windows = {json.loads(x)["index"]: json.loads(x) for x in next(out.iterdir()).joinpath("windows.jsonl")
               .read_text().splitlines()}
    for m in moments:
        assert m["via"] == "image-text" and set(m) >= {"source", "start", "end", "score", "z", "frame", "match"}
        assert m["frame"] in windows[m["index"]]["video"]["image_text"]["frames"]
        assert m["start"] <= m["frame"] < m["end"]
    # the two moments do not overlap by half (both halves of one moment would fill the list)
    a, b = sorted(moments, key=lambda m: m["start"])
    assert b["start"] >= a["start"] + 0.5 * (a["end"] - a["start"])
    # the kept result is matched again without analysing, and --image ranks by picture
    folder = next(p for p in out.iterdir() if p.is_dir())
    import cv2

    picture = tmp_path / "look.png"
    cv2.imwrite(str(picture), np.full((32, 32, 3), 200, np.uint8))
    again = subprocess.run([sys.executable, "-m", "streamfuse", "match", str(folder), "--image", str(picture),
                            "--json"], capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert all(json.loads(x)["via"] == "image-text" for x in again.stdout.splitlines())
