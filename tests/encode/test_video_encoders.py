"""The video encoders: motion, cuts and flashes; faces; people.

Synthetic frames are drawn here with numpy (the truth is stated by construction); the real clips in
``../shared/media`` check what synthetic frames are too kind to show.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from fractions import Fraction
from pathlib import Path

import cv2
import numpy as np
import pytest

from streamfuse.encode.video.faces import FacesConfig
from streamfuse.encode.video.motion import MotionConfig
from streamfuse.encode.video.people import PeopleConfig
from streamfuse.encode.base import Features
from streamfuse.encode.video import FaceEncoder, MotionEncoder, PeopleEncoder
from streamfuse.testing.windows import windows_from_frames

FPS = 25
H, W = 180, 320
FRAME = Fraction(1, FPS)


# ---------------------------------------------------------------- synthetic frames


def scene(seed: int, palette: list[tuple[int, int, int]], height: int = H, width: int = W) -> np.ndarray:
    """A still 'shot': 20 px blocks of colours from ``palette``."""
    rng = np.random.default_rng(seed)
    cells = np.asarray(palette, np.uint8)[rng.integers(0, len(palette), (height // 20 + 1, width // 20 + 1))]
    return np.ascontiguousarray(cells.repeat(20, axis=0).repeat(20, axis=1)[:height, :width])


OUTDOORS = [(30, 90, 200), (20, 160, 60), (200, 200, 220), (90, 60, 30)]
INDOORS = [(220, 40, 40), (240, 200, 30), (50, 50, 50), (250, 120, 180)]


def noisy(image: np.ndarray, rng: np.random.Generator, sigma: float = 1.5) -> np.ndarray:
    """Sensor noise well below the default noise floor."""
    return np.clip(image + rng.normal(0, sigma, image.shape), 0, 255).astype(np.uint8)


def washed_out(image: np.ndarray) -> np.ndarray:
    """A camera flash: the same frame, mostly white."""
    return (image.astype(np.uint16) * 3 // 10 + 178).astype(np.uint8)


def run(encoder, images, fps: int = FPS) -> list[Features]:
    """Every window of ``images`` (one per frame, at ``fps``) through ``encoder``, as the pipeline does."""
    windows = windows_from_frames([(Fraction(i, fps), image) for i, image in enumerate(images)])
    return [encoder(window) for window in windows]


def found(features: list[Features], kind: str):
    return [d for f in features for d in f.detections if d.kind == kind]


# ---------------------------------------------------------------- motion


def test_a_box_entering_and_leaving_is_motion_exactly_while_it_moves():
    rng = np.random.default_rng(0)
    background = scene(1, OUTDOORS)
    frames = []
    for i in range(100):
        image = background.copy()
        if 30 <= i <= 60:  # visible in frames 30..60, moving 6 px a frame
            x = 10 + 6 * (i - 30)
            image[60:100, x:x + 30] = (255, 255, 0)
        frames.append(noisy(image, rng))
    motion = found(run(MotionEncoder(), frames), "motion")
    starts = sorted(d.start for d in motion)
    # frame 30 shows the box appear; frame 61 shows it vanish; nothing moves before or after
    assert abs(starts[0] - Fraction(30, FPS)) <= FRAME
    assert abs(max(d.end for d in motion) - Fraction(62, FPS)) <= FRAME
    assert starts == [Fraction(i, FPS) for i in range(30, 62)], "one motion detection per moving frame, no gaps"
    mid = next(d for d in motion if d.start == Fraction(45, FPS))
    x0, y0, x1, y1 = mid.evidence["region"]
    box_x = (10 + 6 * 15) / W
    assert x0 <= box_x < x1 and y0 <= 60 / H and 100 / H <= y1 + 0.02
    assert x1 - x0 < 0.3 and 0 < mid.evidence["area"] < 0.1
    json.dumps([d.evidence for d in motion])


def test_noise_below_the_floor_is_not_motion_and_the_floor_is_what_stops_it():
    rng = np.random.default_rng(1)
    still = scene(2, OUTDOORS)
    frames = [noisy(still, rng, sigma=3.0) for _ in range(60)]
    features = run(MotionEncoder(), frames)
    assert found(features, "motion") == []
    assert all(f.summary["motion"] == 0.0 for f in features)
    # the same frames with no floor at all are full of 'motion'
    assert found(run(MotionEncoder(MotionConfig(noise_floor=0.0)), frames), "motion")


@pytest.mark.parametrize("cut_frame", [50, 37, 99])
def test_a_hard_cut_is_one_scene_cut_at_its_exact_frame(cut_frame):
    rng = np.random.default_rng(2)
    a, b = scene(3, OUTDOORS), scene(4, INDOORS)
    frames = [noisy(a if i < cut_frame else b, rng) for i in range(100)]
    features = run(MotionEncoder(), frames)
    cuts = found(features, "scene.cut")
    assert [c.start for c in cuts] == [Fraction(cut_frame, FPS)]
    assert cuts[0].instant and cuts[0].end == cuts[0].start and cuts[0].confidence >= 0.5
    assert found(features, "flash") == []
    assert found(features, "motion") == [], "the change at a cut is not motion"
    t = Fraction(cut_frame, FPS)
    windows = windows_from_frames([(Fraction(i, FPS), f) for i, f in enumerate(frames)])
    for window, f in zip(windows, features):
        if window.owns(t):  # the owner always knows: a decision waits a few frames, a window's tail is 1 s
            assert f.summary["cuts"] == 1
        elif not window.start <= t < window.end:
            assert f.summary["cuts"] == 0


@pytest.mark.parametrize("flash_frames", [1, 2, 3])
def test_a_flash_is_a_flash_at_its_first_bright_frame_not_a_cut(flash_frames):
    rng = np.random.default_rng(3)
    a = scene(5, OUTDOORS)
    frames = [noisy(washed_out(a) if 40 <= i < 40 + flash_frames else a, rng) for i in range(90)]
    features = run(MotionEncoder(), frames)
    assert found(features, "scene.cut") == []
    flashes = found(features, "flash")
    assert [f.start for f in flashes] == [Fraction(40, FPS)]
    assert flashes[0].instant and flashes[0].evidence["brightness_jump"] >= 40
    assert flashes[0].evidence["frames"] == flash_frames
    assert found(features, "motion") == [], "a flash is not motion"


def test_a_flash_right_before_a_cut_is_both_and_a_long_bright_shot_is_a_cut():
    rng = np.random.default_rng(4)
    a, b = scene(6, OUTDOORS), scene(7, INDOORS)
    frames = [noisy(a if i < 40 else washed_out(a) if i < 42 else b, rng) for i in range(90)]
    features = run(MotionEncoder(), frames)
    assert [c.start for c in found(features, "flash")] == [Fraction(40, FPS)]
    assert [c.start for c in found(features, "scene.cut")] == [Fraction(42, FPS)]
    # bright for a whole second: not a flash any more, a cut in and a cut out
    frames = [noisy(washed_out(a) if 30 <= i < 55 else a, rng) for i in range(90)]
    features = run(MotionEncoder(), frames)
    assert found(features, "flash") == []
    assert [c.start for c in found(features, "scene.cut")] == [Fraction(30, FPS), Fraction(55, FPS)]


def test_a_one_frame_glimpse_of_something_else_is_not_a_cut_but_is_motion():
    rng = np.random.default_rng(11)
    a, b = scene(13, OUTDOORS), scene(14, INDOORS)
    frames = [noisy(b if i == 30 else a, rng) for i in range(60)]
    features = run(MotionEncoder(), frames)
    assert found(features, "scene.cut") == [] and found(features, "flash") == []
    assert [d.start for d in found(features, "motion")] == [Fraction(30, FPS), Fraction(31, FPS)]


def test_fast_motion_is_not_a_cut():
    rng = np.random.default_rng(5)
    a = scene(8, OUTDOORS)
    pan = [noisy(np.roll(a, 37 * i, axis=1), rng) for i in range(50)]  # a whip pan, 37 px a frame
    truck = []
    for i in range(50):  # a dark truck crossing most of the frame at 40 px a frame
        image = a.copy()
        x = -200 + 40 * (i % 15)
        image[:, max(x, 0):max(x + 200, 0)] = (15, 15, 15)
        truck.append(noisy(image, rng))
    for frames in (pan, truck):
        features = run(MotionEncoder(), frames)
        assert found(features, "scene.cut") == [] and found(features, "flash") == []
        assert len(found(features, "motion")) >= 40


def test_brightness_and_blur_summaries():
    sharp = scene(9, OUTDOORS)
    soft = cv2.GaussianBlur(sharp, (15, 15), 5)
    s = run(MotionEncoder(), [sharp] * 10)[0].summary
    b = run(MotionEncoder(), [soft] * 10)[0].summary
    assert set(s) == {"motion", "brightness", "blur", "cuts"}
    assert s["blur"] > 3 * b["blur"]
    assert abs(s["brightness"] - float(cv2.cvtColor(sharp, cv2.COLOR_RGB2GRAY).mean())) < 2
    json.dumps(s)


# ---------------------------------------------------------------- odd shapes, caching, memory


def all_encoders():
    return [MotionEncoder(), FaceEncoder(), PeopleEncoder()]


def test_one_pixel_high_frames_and_a_single_frame_window_do_not_crash():
    rng = np.random.default_rng(6)
    thin = [rng.integers(0, 255, (1, 64, 3), dtype=np.uint8) for _ in range(30)]
    for encoder in all_encoders():
        features = run(encoder, thin)
        assert features and all(f.encoder == encoder.name for f in features)
    single = windows_from_frames([(0, scene(10, OUTDOORS))])
    assert len(single) == 1 and len(single[0].frames) == 1 and single[0].final
    for encoder in all_encoders():
        f = encoder(single[0])
        assert f.detections == () or all(d.start == 0 for d in f.detections)
    empty = windows_from_frames([], duration=1)
    for encoder in all_encoders():
        assert encoder(empty[0]).detections == ()


def counting(method, calls: Counter):
    def wrapper(frame):
        calls[frame.time] += 1
        return method(frame)
    return wrapper


def test_each_frame_is_analysed_once_across_overlapping_windows():
    rng = np.random.default_rng(7)
    frames = [noisy(scene(11, OUTDOORS), rng) for _ in range(5 * FPS)]
    motion, faces, people = all_encoders()
    calls = {name: Counter() for name in ("motion", "faces", "people")}
    motion._analyse = counting(motion._analyse, calls["motion"])
    faces._detect = counting(faces._detect, calls["faces"])
    people._detect = counting(people._detect, calls["people"])
    windows = windows_from_frames([(Fraction(i, FPS), f) for i, f in enumerate(frames)])
    assert sum(len(w.frames) for w in windows) > 1.5 * len(frames), "the windows must overlap"
    for window in windows:
        for encoder in (motion, faces, people):
            encoder(window)
    assert set(calls["motion"]) == {Fraction(i, FPS) for i in range(len(frames))}
    assert max(calls["motion"].values()) == 1
    for name, rate in (("faces", FacesConfig().rate), ("people", PeopleConfig().rate)):
        rate = Fraction(rate).limit_denominator(100)
        assert max(calls[name].values()) == 1
        # picked by timestamp: the first frame of every 1/rate slot
        assert sorted(calls[name]) == [Fraction(math.ceil(k * FPS / rate), FPS) for k in range(math.ceil(5 * rate))]


def test_faces_and_people_pick_frames_by_time_on_a_jittery_stream():
    rng = np.random.default_rng(8)
    times = np.cumsum(rng.uniform(0.02, 0.06, 150))
    images = [scene(12, OUTDOORS)] * len(times)
    windows = windows_from_frames([(Fraction(round(t * 1000), 1000), im) for t, im in zip(times, images)])
    faces = FaceEncoder(FacesConfig(rate=4))
    calls = Counter()
    faces._detect = counting(faces._detect, calls)
    for window in windows:
        faces(window)
    picked = sorted(calls)
    assert max(calls.values()) == 1
    per_second = Counter(math.floor(t) for t in picked)
    assert max(per_second.values()) <= 4
    assert len(picked) >= 4 * math.floor(times[-1]) - 1


def test_caches_stay_bounded_over_600_windows():
    rng = np.random.default_rng(9)
    base = rng.integers(0, 255, (24, 32, 3), dtype=np.uint8)
    frames = [(Fraction(i, 2), base if i % 7 else 255 - base) for i in range(1201)]  # 2 fps, 10 min
    windows = windows_from_frames(frames)
    assert len(windows) >= 600
    # people at 192 wide: HOG runs on every changed frame and stays cheap
    motion, faces, people = MotionEncoder(), FaceEncoder(), PeopleEncoder(PeopleConfig(width=192))
    biggest = Counter()
    for window in windows:
        for encoder in (motion, faces, people):
            encoder(window)
            biggest[encoder.name] = max(biggest[encoder.name], len(encoder._frames))
        biggest["cuts"] = max(biggest["cuts"], len(motion._cuts), len(motion._cut_times))
    assert biggest["motion"] <= 5 and biggest["faces"] <= 5 and biggest["people"] <= 5
    assert biggest["cuts"] <= 8


# ---------------------------------------------------------------- people


def draw_person(image: np.ndarray, x: float, y: float, height: float, colour=(40, 40, 60)) -> np.ndarray:
    """A filled walking silhouette, top centre at (x, y)."""
    u = height / 8
    cv2.circle(image, (int(x), int(y + 0.6 * u)), int(0.55 * u), colour, -1, cv2.LINE_AA)
    cv2.ellipse(image, (int(x), int(y + 2.6 * u)), (int(0.9 * u), int(1.6 * u)), 0, 0, 360, colour, -1, cv2.LINE_AA)
    for side in (-1, 1):
        leg = [[x + side * 0.2 * u, y + 3.8 * u], [x + side * 0.75 * u, y + 3.8 * u],
               [x + side * 1.1 * u, y + 8 * u], [x + side * 0.5 * u, y + 8 * u]]
        arm = [[x + side * 0.8 * u, y + 1.3 * u], [x + side * 1.2 * u, y + 1.4 * u],
               [x + side * 1.5 * u, y + 4.3 * u], [x + side * 1.1 * u, y + 4.3 * u]]
        for part in (leg, arm):
            cv2.fillConvexPoly(image, np.asarray(part, np.int32), colour, cv2.LINE_AA)
    return image


def test_a_small_walking_person_is_found_after_upscaling_and_a_still_scene_skips_hog():
    rng = np.random.default_rng(10)
    background = np.full((H, W, 3), 190, np.uint8)
    images = []
    for i in range(40):  # 10 fps: empty for 1 s, a person 60 px tall walks for 2 s, then still for 1 s
        image = background.copy()
        if 10 <= i < 30:
            draw_person(image, 40 + 10 * (i - 10), 40, 60)
        images.append(noisy(image, rng, 1.0))
    people = PeopleEncoder(PeopleConfig(rate=2))
    features = run(people, images, fps=10)
    persons = found(features, "person")
    assert persons and all(Fraction(1) <= d.start < Fraction(3) for d in persons)
    assert {d.start for d in persons} >= {Fraction(k, 2) for k in range(2, 6)}
    assert all(d.evidence["count"] == 1 and 0.5 <= d.confidence <= 1 for d in persons)
    x0, y0, x1, y1 = persons[0].evidence["boxes"][0]
    assert x0 < (40 / W) + 0.05 and x1 > 40 / W and y1 - y0 > 60 / H
    assert max(f.summary["people"] for f in features) == 1
    assert people.hog_runs < 8, "frames where nothing changed reuse the last result"
    # without upscaling, HOG's 64x128 window cannot see a 60 px person in a 320-wide frame
    assert found(run(PeopleEncoder(PeopleConfig(width=320)), images, fps=10), "person") == []


# ---------------------------------------------------------------- real media


def decode(path: Path, rate: float | None = None) -> list[tuple[Fraction, np.ndarray]]:
    """Plain PyAV: RGB frames 320 wide with exact times, at most ``rate`` per second (by timestamp)."""
    av = pytest.importorskip("av")
    if not path.is_file():
        pytest.skip(f"real media {path} is missing")
    out, last = [], None
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        height = round(stream.codec_context.height * 320 / stream.codec_context.width / 2) * 2
        for frame in container.decode(stream):
            t = frame.pts * frame.time_base
            if rate is not None:
                slot = math.floor(t * Fraction(rate))
                if last is not None and slot <= last:
                    continue
                last = slot
            out.append((t, frame.to_ndarray(format="rgb24", width=320, height=height)))
    return out


@pytest.fixture(scope="module")
def talking_head(media):
    return windows_from_frames(decode(media / "grid" / "bbaf2n.mpg"))


@pytest.fixture(scope="module")
def street(media):
    return windows_from_frames(decode(media / "intel" / "car-detection.mp4"))


def test_talking_head_has_one_face_in_most_frames(talking_head):
    features = [FaceEncoder(FacesConfig(rate=5))(w) for w in talking_head]
    faces = found(features, "face")
    examined = 3 * 5  # 3 s at 5 frames per second
    assert len(faces) >= 0.8 * examined
    assert all(d.evidence["count"] == 1 and d.confidence > 0.8 for d in faces)
    cx = [(b[0] + b[2]) / 2 for d in faces for b in d.evidence["boxes"]]
    assert all(0.3 < x < 0.7 for x in cx), "the face is in the middle of the frame"
    # each detection lasts until the next examined frame: together they tile the clip
    spans = sorted((d.start, d.end) for d in faces)
    assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert all(f.summary == {"faces": 1} for f in features)


def test_talking_head_has_no_cuts(talking_head):
    features = [MotionEncoder()(w) for w in talking_head]
    assert found(features, "scene.cut") == [] and found(features, "flash") == []


def test_street_has_motion_and_no_cuts(street):
    motion = MotionEncoder()
    features = [motion(w) for w in street]
    assert found(features, "scene.cut") == [] and found(features, "flash") == []
    moving = found(features, "motion")
    assert len(moving) >= 0.2 * sum(len(w.frames) for w in street if w.frames and w.owns(w.frames[0].time))
    assert max(f.summary["motion"] for f in features) == 1.0
    assert min(f.summary["motion"] for f in features) == 0.0, "the empty street is still"
    faces = FaceEncoder(FacesConfig(rate=2))
    assert found([faces(w) for w in street], "face") == []


def test_street_at_the_default_analysis_rate_has_no_cuts(media):
    windows = windows_from_frames(decode(media / "intel" / "car-detection.mp4", rate=10))
    features = [MotionEncoder()(w) for w in windows]
    assert found(features, "scene.cut") == []
    assert found(features, "motion")
