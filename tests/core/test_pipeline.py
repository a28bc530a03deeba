"""The pipeline end to end: A/V sync against known truth, real recordings, runtime parity,
event schema, atomic results."""

from __future__ import annotations

import json
from fractions import Fraction

import pytest

from streamfuse import registry
from streamfuse.encode.base import BaseEncoder, Features
from streamfuse.errors import StageError
from streamfuse.spec import StageSection, StageSpec
from streamfuse.events import validate_event
from streamfuse.testing import media as gen
from streamfuse.testing.run import of_type, run_pipeline

CHEAP = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
         "encoders.objects.enabled=false", "encoders.sounds.enabled=false")


def test_av_sync_flashes_and_beeps_match_truth(make, tmp_path):
    truth = make("avsync.mkv", gen.make_av_sync_clip, duration=6.0, period=0.7)
    frame = Fraction(1, 25)
    result, events, windows = run_pipeline(truth.path, tmp_path, "decode.fps=0", *CHEAP,
                                           "encoders.faces.enabled=false", "encoders.vad.enabled=false")
    assert result.ok
    flashes = sorted(e["data"]["start"] for e in of_type(events, "flash"))
    beeps = sorted(e["data"]["start"] for e in of_type(events, "sound") if e["data"].get("label") == "onset")
    assert len(flashes) == len(truth.flash_times), flashes
    assert len(beeps) == len(truth.beep_times), beeps
    for got, want in zip(flashes, truth.flash_times):
        assert abs(got - float(want)) <= float(frame)
    for got, want in zip(beeps, truth.beep_times):
        assert abs(got - float(want)) <= 0.010
    assert not of_type(events, "scene.cut")  # a flash is not a cut
    # each flash/beep pair lands in the same windows
    for f, b in zip(flashes, beeps):
        holders_f = [w["index"] for w in windows if w["start"] <= f < w["end"]]
        holders_b = [w["index"] for w in windows if w["start"] <= b < w["end"]]
        assert holders_f == holders_b and holders_f


def test_every_event_validates_and_is_ordered(make, tmp_path):
    truth = make("sample.mkv", gen.make_sample_clip)
    result, events, windows = run_pipeline(truth.path, tmp_path, *CHEAP)
    assert result.ok and events and windows
    for e in events:
        validate_event(e)
    starts = [e["data"]["start"] for e in events]
    assert starts == sorted(starts)
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
    # durative events come as start ... end with one event_id
    series = {}
    for e in events:
        series.setdefault(e["data"]["event_id"], []).append(e["data"]["phase"])
    for phases in series.values():
        if phases[0] == "start":
            assert phases[-1] == "end" and phases.count("start") == 1 and phases.count("end") == 1
        else:
            assert phases == ["instant"]
    # the sample's subtitle track reaches the transcript
    vtt = (result.folder / "transcript.vtt").read_text()
    for cue in truth.cues:
        assert " ".join(cue.text.split()) in " ".join(vtt.split())


def test_real_talking_head_speech_and_face(media, tmp_path):
    result, events, windows = run_pipeline(media / "grid" / "bbaf2n.mpg", tmp_path, *CHEAP,
                                           "decode.sidecar_subtitles=false")
    speech = [e for e in of_type(events, "speech") if e["data"]["phase"] == "end"]
    assert len(speech) == 1
    assert abs(speech[0]["data"]["start"] - 0.95) < 0.15 and abs(speech[0]["data"]["end"] - 2.12) < 0.25
    faces = [e for e in of_type(events, "face") if e["data"]["phase"] == "end"]
    assert len(faces) == 1 and faces[0]["data"]["end"] - faces[0]["data"]["start"] > 2.0
    assert max(w["video"]["faces"]["faces"] for w in windows) == 1
    assert of_type(events, "speaker.visible")


def test_real_street_scene_has_no_speech(media, tmp_path):
    result, events, windows = run_pipeline(media / "intel" / "car-detection.mp4", tmp_path, *CHEAP)
    assert result.ok
    assert not of_type(events, "speech") and not of_type(events, "sound")
    assert of_type(events, "motion")
    assert all(w["audio"]["loudness"]["silence"] for w in windows)


@pytest.mark.ray
def test_ray_and_local_give_identical_events(make, tmp_path, ray_session):
    from streamfuse.runtime.ray_runtime import RayRuntime
    truth = make("sample.mkv", gen.make_sample_clip)
    _, local_events, local_windows = run_pipeline(truth.path, tmp_path / "local", *CHEAP)
    rt = RayRuntime(max_in_flight=3)
    try:
        _, ray_events, ray_windows = run_pipeline(truth.path, tmp_path / "ray", *CHEAP, runtime=rt)
    finally:
        rt.close()

    def strip(events):
        return [{k: v for k, v in e.items() if k != "time"} for e in events]

    assert local_events and strip(ray_events) == strip(local_events)
    assert ray_windows == local_windows


@pytest.mark.ray
def test_every_registered_encoder_runs_and_agrees_on_both_runtimes(media, tmp_path, ray_session):
    """The conformance run: the default configuration (every registered encoder) over one real clip."""
    from streamfuse.runtime.ray_runtime import RayRuntime

    clip = media / "grid" / "bbaf2n.mpg"
    everything = [f"encoders.{cls.spec.key}.enabled=true" for cls in registry.stages() if cls.spec.per_window]
    from streamfuse.testing.tiny_models import tiny_model_sets

    # roles with no default model (image_text...) get tiny random ones: they only have to run
    sets = ("decode.sidecar_subtitles=false", *everything, *tiny_model_sets(tmp_path / "models"))
    _, local_events, local_windows = run_pipeline(clip, tmp_path / "local", *sets)
    rt = RayRuntime(max_in_flight=3)
    try:
        _, ray_events, ray_windows = run_pipeline(clip, tmp_path / "ray", *sets, runtime=rt)
    finally:
        rt.close()
    expected = {cls.spec.key for cls in registry.stages() if cls.spec.per_window}
    for windows in (local_windows, ray_windows):
        ran = {key for w in windows for modality in ("video", "audio", "text") for key in w[modality]
               if isinstance(w[modality][key], dict)}
        assert ran == expected  # no encoder dropped on either runtime
    assert of_type(local_events, "transcript") and of_type(local_events, "face")
    # identical, except that Whisper's probabilities may differ in the third decimal between
    # processes (CTranslate2's int8 kernels under another thread set-up): confidences within 0.02
    assert len(ray_events) == len(local_events)
    for r, loc in zip(ray_events, local_events):
        assert _without_probabilities(r) == _without_probabilities(loc)
        assert abs(r["data"]["confidence"] - loc["data"]["confidence"]) <= 0.02
    assert ray_windows == local_windows


def _without_probabilities(event: dict) -> dict:
    data = dict(event["data"], confidence=None)
    if event["type"] == "streamfuse.transcript" and "words" in data["evidence"]:
        data["evidence"] = dict(data["evidence"], words=[w[:3] for w in data["evidence"]["words"]])
    return {**{k: v for k, v in event.items() if k != "time"}, "data": data}


class _Boom(BaseEncoder):
    spec = StageSpec(key="boom", config=StageSection, modality="video")

    def __init__(self, config) -> None:
        self.n = 0

    def __call__(self, window):
        self.n += 1
        if self.n == 3:
            raise RuntimeError("encoder exploded on window 3")
        return Features("boom", "video")


@pytest.fixture
def boom():
    registry.register(_Boom)
    yield
    registry.unregister("boom")


def test_failure_mid_run_leaves_no_half_written_result(make, tmp_path, boom):
    truth = make("sample.mkv", gen.make_sample_clip)
    previous = tmp_path / truth.path.name
    previous.mkdir()
    (previous / "events.jsonl").write_text('{"old": true}\n')
    with pytest.raises(RuntimeError, match="exploded"):
        run_pipeline(truth.path, tmp_path, *CHEAP)
    # the earlier complete result is untouched and no partial folder is left
    assert sorted(p.name for p in tmp_path.iterdir()) == [truth.path.name]
    assert json.loads((previous / "events.jsonl").read_text()) == {"old": True}


@pytest.mark.ray
def test_ray_stage_error_reaches_the_driver_with_traceback(make, tmp_path, boom, ray_session):
    from streamfuse.runtime.ray_runtime import RayRuntime
    truth = make("video_only.mkv", gen.make_video_only_clip, duration=4.0)
    import sys
    ray_session.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests
    rt = RayRuntime(max_in_flight=2)
    try:
        result, _, _ = run_pipeline(truth.path, tmp_path, *CHEAP, "encoders.faces.enabled=false", runtime=rt)
    finally:
        rt.close()
    assert not result.ok and result.exit_code == StageError.exit_code == 1
    assert result.error == "stage 'encode/boom' failed: RuntimeError: encoder exploded on window 3"
    assert "test_pipeline.py" in result.traceback and 'raise RuntimeError("encoder exploded' in result.traceback
    assert list(tmp_path.iterdir()) == []
