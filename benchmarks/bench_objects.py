"""Objects and people with the SSD MobileNet v2 detector and ByteTrack, beside plain HOG, on real clips.

Prints, measured in one run:
  1. Cars on ../shared/media/intel/car-detection.mp4 (cars seen from above): per examined frame (2 fps)
     the cars in view (hand-labelled truth below) against the objects found, labelled "car" and of
     any class, for the whole 300x300 frame, 2x1 and 2x2 tiles (plus the whole frame) and a 512x512
     input, at the default 320-wide analysis frames and at 640; with the detector's CPU time per
     examined frame.
  2. Person time IoU (a person's presence joined over gaps up to fusion.gap = 1 s, as fusion joins
     presence) on the 20 asl clips (a person visible throughout) and the 6 scene clips (truth below),
     for the objects encoder at 0.5, 1 and 2 examined frames per second and for HOG at 2 fps (the
     people encoder with rate 2, no motion gate), with the person tracks per asl clip.
  3. The motion gate: what it saves (network frames) and what it costs (IoU, car recall).

Sections 1 and 2 use the encoder's defaults (motion gate on) but for the settings named.
CPU times are the detector thread's own (``time.thread_time``, one OpenCV thread), less disturbed
than wall time by other work on a shared machine, but still not an unloaded figure.

    .venv/bin/python benchmarks/bench_objects.py [--quick]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from fractions import Fraction
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
MEDIA = HERE.parent.parent / "shared" / "media"

from streamfuse.encode.video.people import PeopleConfig  # noqa: E402
from streamfuse.encode.video._frames import RateGate  # noqa: E402
from streamfuse.encode.video.objects import ObjectsConfig, ObjectsEncoder  # noqa: E402
from streamfuse.encode.video.people import PeopleEncoder  # noqa: E402
from streamfuse.testing.run import windows_of  # noqa: E402

#: cars at least about a third in view in car-detection.mp4, [enter, leave) seconds, read off
#: contact sheets of its frames every 0.5 s (a white car, a silver and a red one together, a white one)
CAR_SPANS = [(4.75, 8.25), (14.75, 18.25), (15.25, 18.8), (25.25, 27.75)]
#: person visible in each scene clip: [start, end) seconds, None = the whole clip (media README; for
#: people-detection the person leaves the frame at 1.0 s, read off its frames)
SCENE_PEOPLE = {"classroom.gif": None, "face-demographics-walking.gif": None, "people-detection.gif": (0.0, 1.0),
                "person-bicycle-car-detection.gif": None, "store-aisle-detection.gif": None,
                "worker-zone-detection.gif": None}
GAP = Fraction(1)


class TimedDetector:
    """A detector that adds up its own thread's CPU time."""

    def __init__(self, net) -> None:
        self.net = net
        self.cpu = 0.0
        self.frames = 0

    def __call__(self, images):
        t = time.thread_time()
        out = self.net(images)
        self.cpu += time.thread_time() - t
        self.frames += len(images)
        return out

    @property
    def ms_per_frame(self) -> float:
        return 1000 * self.cpu / max(self.frames, 1)


def run(encoder, windows):
    return [encoder(w) for w in windows]


def objects(config: ObjectsConfig, detector: TimedDetector | None = None) -> ObjectsEncoder:
    """The encoder with its detector timed: ``detector`` (timed already), or a new one."""
    if detector is not None:
        return ObjectsEncoder(config, detector=detector)
    enc = ObjectsEncoder(config)
    enc.detector = TimedDetector(enc.detector)
    return enc


def examined_times(windows, rate: float) -> list[Fraction]:
    """The frames the encoder examines: each frame once, picked by the same rate gate."""
    gate = RateGate(rate)
    return [t for t in sorted({f.time for w in windows for f in w.frames}) if gate.admit(t)]


def cars_in_view(t: float) -> int:
    return sum(a <= t < b for a, b in CAR_SPANS)


def car_counts(features) -> list[tuple[float, int, int]]:
    """(frame time, objects labelled car, objects of any class) per examined frame."""
    per: dict[Fraction, list] = {}
    for f in features:
        for d in f.detections:
            per.setdefault(d.start, []).append(d)
    return [(float(t), sum(d.label == "car" for d in ds), len(ds)) for t, ds in sorted(per.items())]


def bench_cars(quick: bool) -> None:
    path = MEDIA / "intel" / "car-detection.mp4"
    print("1. cars on car-detection.mp4 (2 examined frames/s; truth: cars in view per frame)")
    widths = (320,) if quick else (320, 640)
    settings = [("300 whole frame", dict(input_size=300)), ("2x1 tiles + frame", dict(tiles="2x1")),
                ("2x2 tiles + frame", dict(tiles="2x2")), ("512 whole frame", dict(input_size=512))]
    for width in widths:
        windows, _ = windows_of(path, f"decode.width={width}")
        times = examined_times(windows, 2.0)
        for name, kw in settings:
            enc = objects(ObjectsConfig(rate=2.0, **kw))
            feats = run(enc, windows)
            found = {t: (car, anything) for t, car, anything in car_counts(feats)}
            truth = sum(cars_in_view(float(t)) for t in times)
            car_hits = sum(min(found.get(t, (0, 0))[0], cars_in_view(t)) for t in map(float, times))
            any_hits = sum(min(found.get(t, (0, 0))[1], cars_in_view(t)) for t in map(float, times))
            empty = [t for t in map(float, times) if cars_in_view(t) == 0]
            false = sum(found.get(t, (0, 0))[1] for t in empty)
            labels = sorted({d.label for f in feats for d in f.detections})
            print(f"   width {width:4d} {name:18s}: {len(times)} frames, {truth} cars in view; recall "
                  f"'car' {car_hits / truth:.2f}, any class {any_hits / truth:.2f}; {false} objects in "
                  f"{len(empty)} empty frames; {enc.detector.ms_per_frame:.0f} ms CPU/frame; labels {labels}")


def presence(features, kind: str = "person") -> list[tuple[Fraction, Fraction]]:
    """Detection spans of one kind joined over gaps up to GAP (fusion's presence rule)."""
    spans = sorted((d.start, d.end) for f in features for d in f.detections if d.kind == kind and not d.instant)
    out: list[list[Fraction]] = []
    for a, b in spans:
        if out and a <= out[-1][1] + GAP:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def iou(pred, truth, end: Fraction) -> float:
    """IoU of two sets of disjoint spans, clipped to [0, end)."""
    def clip(spans):
        return [(max(Fraction(0), a), min(end, b)) for a, b in spans if min(end, b) > max(Fraction(0), a)]

    pred, truth = clip(pred), clip(truth)
    inter = sum(max(Fraction(0), min(b, d) - max(a, c)) for a, b in pred for c, d in truth)
    union = sum(b - a for a, b in pred) + sum(d - c for c, d in truth) - inter
    return float(inter / union) if union else 1.0


def bench_people(quick: bool) -> None:
    print("2. person time IoU (presence joined over <= 1 s gaps)")
    asl = sorted((MEDIA / "asl").glob("*.mkv"))[: 6 if quick else None]
    scenes = sorted((MEDIA / "scenes").glob("*.gif"))
    clips = []
    for path in asl + scenes:
        windows, _ = windows_of(path)
        end = max(f.end for w in windows for f in w.frames)
        span = SCENE_PEOPLE.get(path.name)
        truth = [(Fraction(0), end)] if span is None else [tuple(Fraction(str(v)) for v in span)]
        clips.append((path, windows, end, truth))
    rows = {}
    cost: dict[str, float] = {}
    labels: dict[str, dict[str, set]] = {}
    settings = [(f"objects {rate:g} fps", dict(rate=rate)) for rate in (0.5, 1.0, 2.0)]
    if not quick:
        settings += [("objects 1 fps 2x1", dict(rate=1.0, tiles="2x1")), ("objects 1 fps 2x2", dict(rate=1.0, tiles="2x2"))]
    nets: dict[str, object] = {}
    for name, kw in settings:
        results = []
        tiles = kw.get("tiles", "none")
        timed = TimedDetector(nets[tiles]) if tiles in nets else None
        for path, windows, end, truth in clips:
            enc = objects(ObjectsConfig(**kw), timed)
            timed = enc.detector
            nets[tiles] = timed.net
            feats = run(enc, windows)
            tracks = {d.evidence["track_id"] for f in feats for d in f.detections if d.kind == "person"}
            results.append((path, iou(presence(feats), truth, end), len(tracks)))
            if path.parent.name == "scenes":
                labels.setdefault(name, {})[path.stem] = {d.label for f in feats for d in f.detections}
        rows[name] = results
        cost[name] = timed.ms_per_frame
    hog_cpu, hog_runs = 0.0, 0
    results = []
    for path, windows, end, truth in clips:
        hog = PeopleEncoder(PeopleConfig(rate=2.0, motion_gated=False))
        t = time.thread_time()
        feats = run(hog, windows)
        hog_cpu += time.thread_time() - t
        hog_runs += hog.hog_runs
        results.append((path, iou(presence(feats), truth, end), None))
    rows["HOG 2 fps"] = results
    cost["HOG 2 fps"] = 1000 * hog_cpu / max(hog_runs, 1)
    for name, results in rows.items():
        a = [r for r in results if r[0].parent.name == "asl"]
        s = [r for r in results if r[0].parent.name == "scenes"]
        line = f"   {name:16s}: asl mean IoU {sum(r[1] for r in a) / len(a):.2f} (min {min(r[1] for r in a):.2f})"
        line += f", scenes mean IoU {sum(r[1] for r in s) / len(s):.2f} [" + ", ".join(
            f"{r[0].stem.split('-')[0]} {r[1]:.2f}" for r in s) + "]"
        if results[0][2] is not None:
            line += f"; person tracks per asl clip {sorted({r[2] for r in a})}"
        print(line + f"; {cost[name]:.0f} ms CPU/examined frame")
    print("   classes found in the scene clips:")
    for name, per_clip in labels.items():
        print(f"     {name:16s}: " + "; ".join(f"{clip.split('-')[0]} {sorted(found)}" for clip, found in per_clip.items()))


def bench_gate(quick: bool) -> None:
    print("3. motion gate (objects at 1 fps): network frames run and accuracy, gate off vs on")
    paths = ([MEDIA / "intel" / "car-detection.mp4"] + sorted((MEDIA / "asl").glob("*.mkv"))[: 4 if quick else 10]
             + sorted((MEDIA / "scenes").glob("*.gif")))
    clips = [(path, windows_of(path)[0]) for path in paths]
    detector = None
    for gated in (False, True):
        ious, run_frames, examined = [], 0, 0
        car_hits = truth_cars = 0
        for path, windows in clips:
            enc = objects(ObjectsConfig(rate=1.0, motion_gated=gated), detector)
            detector = enc.detector
            feats = run(enc, windows)
            run_frames += enc.network_frames
            examined += enc.network_frames + enc.carried_frames
            if path.suffix == ".mp4":
                found = {t: n for t, _, n in car_counts(feats)}
                times = [float(t) for t in examined_times(windows, 1.0)]
                truth_cars = sum(cars_in_view(t) for t in times)
                car_hits = sum(min(found.get(t, 0), cars_in_view(t)) for t in times)
            else:
                end = max(f.end for w in windows for f in w.frames)
                span = SCENE_PEOPLE.get(path.name)
                truth = [(Fraction(0), end)] if span is None else [tuple(Fraction(str(v)) for v in span)]
                ious.append((path.parent.name, iou(presence(feats), truth, end)))
        mean = {k: sum(v for g, v in ious if g == k) / max(1, sum(g == k for g, _ in ious)) for k in ("asl", "scenes")}
        print(f"   gate {'on ' if gated else 'off'}: network on {run_frames} of {examined} examined frames; "
              f"car recall (any class) {car_hits / max(truth_cars, 1):.2f}; mean IoU asl {mean['asl']:.2f}, "
              f"scenes {mean['scenes']:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips and settings")
    args = parser.parse_args()
    if not MEDIA.is_dir():
        sys.exit(f"real media folder {MEDIA} is missing")
    t0 = time.perf_counter()
    bench_cars(args.quick)
    bench_people(args.quick)
    bench_gate(args.quick)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
