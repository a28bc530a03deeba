"""The stage registry: a stage declared once, beside its code, and everything else derived from it.

A small encoder defined here (one class, one registration line) is configured by ``--set``, run by
both runtimes, listed by ``streamfuse models``, its events validated by the schema, and mentioned
by nothing in the package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from streamfuse import registry
from streamfuse.config import load_config
from streamfuse.config.base import bounded
from streamfuse.encode.base import BaseEncoder, Detection, Features
from streamfuse.errors import ConfigError
from streamfuse.events import EventSchemaError, event_schema, validate_event
from streamfuse.spec import NUMBER, EventKind, ModelInfo, Resources, StageSection, StageSpec, data, pick_device
from streamfuse.testing import media as gen
from streamfuse.testing.run import of_type, run_pipeline

ROOT = Path(__file__).resolve().parents[2]
QUIET = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
         "encoders.faces.enabled=false", "encoders.vad.enabled=false", "encoders.objects.enabled=false",
         "encoders.sounds.enabled=false")


# ---------------------------------------------------------------- a new encoder, in one place


@dataclass(frozen=True)
class GlareConfig(StageSection):
    """Frames brighter than ``level`` (mean grey, 0-255) are glare."""

    level: float = bounded(200.0, 0.0, 255.0, doc="mean brightness that counts as glare")


class GlareEncoder(BaseEncoder):
    """One ``glare`` instant per analysed frame whose mean brightness reaches ``level``."""

    spec = StageSpec(
        key="glare", config=GlareConfig, modality="video",
        kinds=(EventKind("glare", "instant", ("video",), data(required=("label",), brightness=NUMBER),
                         describe="glare"),),
        models=lambda section: [ModelInfo("glare", "mean brightness (no weights)", "-", True, kind="builtin")],
        resources=Resources(cpus=0.25),
    )

    def __init__(self, config: GlareConfig) -> None:
        self.config = config
        self._seen: set[Fraction] = set()

    def __call__(self, window) -> Features:
        detections = []
        for frame in window.frames:
            level = float(frame.image.mean())
            if window.owns(frame.time) and level >= self.config.level and frame.time not in self._seen:
                self._seen.add(frame.time)
                detections.append(Detection("glare", frame.time, frame.time, 1.0, label="bright", instant=True,
                                            evidence={"brightness": round(level, 1)}))
        return Features(self.name, self.modality, summary={"frames": len(window.frames)},
                        detections=tuple(detections), embeddings={"level": np.array([1.0], np.float32)})


@pytest.fixture
def glare():
    registry.register(GlareEncoder)  # the one registration line
    yield GlareEncoder
    registry.unregister("glare")


def test_a_registered_encoder_is_configured_by_set(glare):
    config = load_config(sets=["encoders.glare.level=180"])
    assert config.encoders.glare.level == 180.0 and config.encoders.section("glare").enabled
    with pytest.raises(ConfigError, match=r"encoders\.glare\.level: 300(\.0)? is out of range, must be <= 255"):
        load_config(sets=["encoders.glare.level=300"])
    with pytest.raises(ConfigError, match=r"unknown config key 'encoders\.glare\.nope'.*level"):
        load_config(sets=["encoders.glare.nope=1"])
    with pytest.raises(ConfigError, match=r"unknown config key 'encoders\.glares'.*glare"):
        load_config(sets=["encoders.glares.level=1"])


def test_a_registered_encoder_runs_on_both_runtimes_with_valid_events(glare, make, tmp_path, ray_session):
    from streamfuse.runtime.ray_runtime import RayRuntime

    truth = make("avsync.mkv", gen.make_av_sync_clip, duration=4.0, period=0.7)
    sets = (*QUIET, "decode.fps=0", "encoders.glare.level=150")
    _, local, local_windows = run_pipeline(truth.path, tmp_path / "local", *sets)
    ray_session.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    rt = RayRuntime(max_in_flight=3)
    try:
        _, remote, remote_windows = run_pipeline(truth.path, tmp_path / "ray", *sets, runtime=rt)
    finally:
        rt.close()
    glares = of_type(local, "glare")
    # the clip flashes white for one frame at each flash time: one glare event each, at that frame
    assert [round(e["data"]["start"], 2) for e in glares] == [round(float(t), 2) for t in truth.flash_times]
    for e in glares:
        validate_event(e)
        assert e["data"]["label"] == "bright" and e["data"]["evidence"]["brightness"] >= 150
    assert all(w["video"]["glare"]["frames"] > 0 for w in local_windows)
    assert any("glare" in w["description"] for w in local_windows)  # its declared phrase

    def strip(events):
        return [{k: v for k, v in e.items() if k != "time"} for e in events]

    assert strip(remote) == strip(local) and remote_windows == local_windows


def test_a_registered_encoders_events_are_checked_by_the_schema(glare):
    from streamfuse.events import make_event

    event = make_event(source_id="s", subject="x", type="glare", seq=1, phase="instant", event_id="s-glare-e1",
                       start=1.0, end=1.0, confidence=1.0, modalities=["video"], label="bright",
                       evidence={"brightness": 201.0})
    validate_event(event)
    assert "streamfuse.glare" in json.dumps(event_schema())
    bad = json.loads(json.dumps(event))
    bad["data"]["evidence"]["brightness"] = "very"
    with pytest.raises(EventSchemaError, match="brightness"):
        validate_event(bad)
    del bad["data"]["label"]
    with pytest.raises(EventSchemaError):
        validate_event(bad)
    bad = json.loads(json.dumps(event))
    bad["data"]["phase"] = "start"  # declared instant only
    with pytest.raises(EventSchemaError, match="phase"):
        validate_event(bad)


def test_a_registered_encoder_is_listed_by_streamfuse_models(glare, capsys):
    from streamfuse.cli.main import main

    assert main(["models", "--json", "--set", "encoders.glare.enabled=false"]) == 0
    rows = {r["stage"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows["glare"]["model"] == "mean brightness (no weights)" and rows["glare"]["enabled"] is False
    assert rows["faces"]["enabled"] is True


def test_the_new_encoder_is_mentioned_nowhere_else():
    found = subprocess.run(["grep", "-rli", "glare", "streamfuse", "pipelines", "configs"], cwd=ROOT,
                           capture_output=True, text=True)
    assert found.stdout == ""


# ---------------------------------------------------------------- what is derived, and only derived


def test_the_shipped_schema_is_the_derived_one():
    shipped = json.loads((ROOT / "streamfuse" / "events" / "schemas" / "event.schema.json").read_text())
    assert shipped == event_schema(), "regenerate it: ./run streamfuse schema -o streamfuse/events/schemas/event.schema.json"


def test_event_types_come_from_the_declared_kinds():
    from streamfuse.events import durative_types, event_types

    declared = {k.name for cls in registry.stages("encoders") + registry.stages("fusers") for k in cls.spec.kinds}
    assert declared <= set(event_types())
    assert {"face", "person", "speech", "motion", "silence", "speaker.visible"} <= durative_types()
    assert "scene.cut" not in durative_types() and "sound" in durative_types()  # sustained sounds are durative


def test_reading_the_registry_imports_no_model_library():
    code = ("import sys; from streamfuse import registry; from streamfuse.config import load_config; "
            "load_config(); registry.event_kinds(); "
            "print([m for m in ('torch', 'onnxruntime', 'ctranslate2', 'transformers', 'faster_whisper', "
            "'scipy.signal', 'ray') if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_device_is_honoured():
    spec = StageSpec(key="x", config=StageSection, modality="video", resources=Resources(devices=("cpu",)))
    gpu = StageSpec(key="y", config=StageSection, modality="video", resources=Resources(devices=("cpu", "cuda")))
    assert pick_device(StageSection(device="auto"), spec, lambda: True) == "cpu"
    assert pick_device(StageSection(device="auto"), gpu, lambda: True) == "cuda"
    assert pick_device(StageSection(device="auto"), gpu, lambda: False) == "cpu"
    with pytest.raises(ConfigError, match=r"encoders\.x\.device: 'cuda' is not possible for x"):
        pick_device(StageSection(device="cuda"), spec, lambda: True)
    with pytest.raises(ConfigError, match="no CUDA device"):
        pick_device(StageSection(device="cuda"), gpu, lambda: False)
    with pytest.raises(ConfigError, match="device"):
        load_config(sets=["encoders.faces.device=tpu"])


def test_asr_refuses_cuda_when_there_is_none_before_loading_anything():
    from streamfuse.encode.text.asr import AsrConfig, AsrEncoder

    import ctranslate2
    if ctranslate2.get_cuda_device_count() > 0:
        pytest.skip("this machine has a CUDA device")
    with pytest.raises(ConfigError, match=r"encoders\.asr\.device: 'cuda'.*no CUDA device"):
        AsrEncoder(AsrConfig(device="cuda"))
