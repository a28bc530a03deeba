"""People and objects on real clips: person-time IoU against stated truth, streamfuse vs plain HOG.

Truth, per clip (stated by looking at the frames; times in seconds from the first frame):
- asl/*.mkv (20 clips): one person visible for the whole clip (the media README).
- scenes/*.gif: classroom, store-aisle-detection, worker-zone-detection, face-demographics-walking
  and person-bicycle-car-detection (a cyclist) show people for the whole clip; people-detection
  shows a person at the left edge until 1.08 s (the last frame with her leg in view is at 1.00 s,
  each frame lasts 0.08 s), then the empty room. person-bicycle-car-detection also shows a car
  and a bicycle for the whole clip.
- intel/car-detection.mp4: no person. Four cars pass, visible (any part of one in frame) during
  [4.40, 8.64), [14.48, 19.04) (two cars, overlapping) and [25.28, 27.84): 11.36 s of 30.16 s
  (38%, not "most of the clip"; labelled frame by frame at 12.5 fps, +-1 frame).

Person time of streamfuse: the union of its durative ``person`` events and of ``object`` events
labelled ``person`` (start .. end of each event id). Car time: ``object`` events labelled ``car``;
a car track is a distinct ``evidence.track_id`` (or event id). The peer: plain OpenCV HOG
(``cv2.HOGDescriptor`` with the default people detector, ``detectMultiScale`` at its defaults,
winStride 8, scale 1.05) on the frame on screen every 0.5 s (2 fps) at the clip's own size, with
1.5 s of hysteresis: a positive sample stands for [t, t + 0.5), and positives at most 1.5 s
apart are joined. IoU is per clip; "all" is time-weighted (summed intersections over summed
unions). ``--quick``: 4 asl clips, all scenes, the street clip.

    python benchmarks/bench_accuracy_people.py [--quick] [--set KEY=VALUE]... [--json PATH]
"""

from __future__ import annotations

import sys
from fractions import Fraction
from pathlib import Path

import av
import cv2

import _bench
from streamfuse.testing.scoring import clip, intersection, iou, label_of, length, of_kind, spans_by_id

RATE = 2.0
HYSTERESIS = 1.5
WHOLE = "whole"  # truth: the whole clip

#: clip -> (person spans or WHOLE, {object label: spans or WHOLE})
SCENES = {
    "classroom.gif": (WHOLE, {}),
    "face-demographics-walking.gif": (WHOLE, {}),
    "people-detection.gif": ([(0.0, 1.08)], {}),
    "person-bicycle-car-detection.gif": (WHOLE, {"car": WHOLE, "bicycle": WHOLE}),
    "store-aisle-detection.gif": (WHOLE, {}),
    "worker-zone-detection.gif": (WHOLE, {}),
}
CAR_SPANS = [(4.40, 8.64), (14.48, 19.04), (25.28, 27.84)]
STREET = {"car-detection.mp4": ([], {"car": CAR_SPANS})}
QUICK_ASL = ["again.mkv", "book.mkv", "eat.mkv", "hungry.mkv"]


def sampled_frames(path: Path, rate: float):
    """The frames on screen at 0, 1/rate, 2/rate ... (by timestamp, from the first frame), and the
    clip's duration (the last frame's end)."""
    picks, shown, k = [], None, 0
    with av.open(str(path)) as c:
        stream = c.streams.video[0]
        step = 1 / Fraction(stream.average_rate) if stream.average_rate else Fraction(1, 25)
        first = end = None
        for frame in c.decode(stream):
            t = frame.pts * frame.time_base
            first = t if first is None else first
            t -= first
            while shown is not None and k / Fraction(rate) < t:
                picks.append((float(k / Fraction(rate)), shown))
                k += 1
            shown = frame.to_ndarray(format="bgr24")
            end = t + (frame.duration * frame.time_base if frame.duration else step)
    while k / Fraction(rate) < end:
        picks.append((float(k / Fraction(rate)), shown))
        k += 1
    return picks, float(end)


def hog_person_spans(picks, duration: float) -> list[tuple[float, float]]:
    """Plain HOG on each sampled frame; positives joined across gaps up to HYSTERESIS."""
    hog = cv2.HOGDescriptor()
    hog.setSVMDetector(cv2.HOGDescriptor_getDefaultPeopleDetector())
    hits = []
    for t, image in picks:
        rects, _ = hog.detectMultiScale(image, winStride=(8, 8), padding=(8, 8), scale=1.05)
        if len(rects):
            hits.append(t)
    spans: list[list[float]] = []
    for t in hits:
        if spans and t - spans[-1][1] <= HYSTERESIS:
            spans[-1][1] = t + 1 / RATE
        else:
            spans.append([t, t + 1 / RATE])
    return clip([(a, b) for a, b in spans], 0.0, duration)


def streamfuse_spans(events, label: str, duration: float) -> tuple[list, int]:
    """(spans, number of tracks) of ``label``: ``person`` events count for people too."""
    chosen = of_kind(events, "object", label) + (of_kind(events, "person") if label == "person" else [])
    def track(e) -> object:
        evidence = e["data"].get("evidence") or {}
        return evidence.get("track_id", evidence.get("track", e["data"].get("event_id")))

    tracks = {track(e) for e in chosen}
    return clip(spans_by_id(chosen).values(), 0.0, duration), len(tracks)


def main() -> int:
    args = _bench.parser(__doc__).parse_args()
    _bench.need_media()
    asl = sorted((_bench.MEDIA / "asl").glob("*.mkv"))
    if args.quick:
        asl = [p for p in asl if p.name in QUICK_ASL]
    clips = {p.name: ("asl", p, (WHOLE, {})) for p in asl}
    clips |= {n: ("scenes", _bench.MEDIA / "scenes" / n, t) for n, t in SCENES.items()}
    clips |= {n: ("street", _bench.MEDIA / "intel" / n, t) for n, t in STREET.items()}
    runs = _bench.Pipeline().run([p for _, p, _ in clips.values()], args.sets, "people")
    results, rows = {}, []
    _bench.progress(f"HOG at {RATE:g} fps on {len(clips)} clips")
    for name, (group, path, (person, objects)) in clips.items():
        picks, duration = sampled_frames(path, RATE)
        truth = [(0.0, duration)] if person == WHOLE else person
        hog = hog_person_spans(picks, duration)
        run = runs.get(name)
        ours, tracks = streamfuse_spans(run.events, "person", duration) if run and run.ok else (None, 0)
        labels = sorted({label_of(e) for e in (run.events if run else []) if label_of(e)})
        r = {"group": group, "duration_s": round(duration, 3), "truth_person_s": round(length(truth), 3),
             "streamfuse_iou": iou(truth, ours) if ours is not None else None,
             "streamfuse_person_s": round(length(ours), 3) if ours is not None else None,
             "streamfuse_person_tracks": tracks,
             "streamfuse_false_person_s": round(length(ours) - intersection(ours, truth), 3) if ours is not None else None,
             "streamfuse_overlap_s": intersection(ours, truth) if ours is not None else None,
             "hog_iou": iou(truth, hog), "hog_person_s": round(length(hog), 3), "hog_overlap_s": intersection(hog, truth),
             "hog_false_person_s": round(length(hog) - intersection(hog, truth), 3),
             "streamfuse_labels": labels, "objects": {}}
        for label, spans in objects.items():
            t_spans = [(0.0, duration)] if spans == WHOLE else spans
            found, n = streamfuse_spans(run.events, label, duration) if run and run.ok else ([], 0)
            r["objects"][label] = {"truth_s": round(length(t_spans), 3), "found_s": round(length(found), 3),
                                   "fraction": round(length(found) / duration, 3), "iou": iou(t_spans, found),
                                   "tracks": n}
        results[name] = r
        rows.append([name, group, duration, length(truth), r["streamfuse_iou"], r["hog_iou"],
                     r["streamfuse_false_person_s"], r["hog_false_person_s"], tracks])

    def pooled(names: list[str], who: str) -> float | None:
        """Time-weighted IoU over the clips that show a person: summed intersections / summed unions."""
        shown = [results[n] for n in names if results[n]["truth_person_s"] and results[n][f"{who}_person_s"] is not None]
        inter = sum(r[f"{who}_overlap_s"] for r in shown)
        either = sum(r["truth_person_s"] + r[f"{who}_person_s"] - r[f"{who}_overlap_s"] for r in shown)
        return inter / either if either else None

    summary = {}
    for group in ("asl", "scenes", "all"):
        names = [n for n, r in results.items() if group in ("all", r["group"])]
        summary[group] = {"streamfuse_iou": pooled(names, "streamfuse"), "hog_iou": pooled(names, "hog")}
        rows.append([f"= {group} (time-weighted)", "", None, None, summary[group]["streamfuse_iou"],
                     summary[group]["hog_iou"], None, None, None])
    _bench.table(f"Person time vs stated truth ({'quick' if args.quick else 'full'})"
                 f"{' with ' + ' '.join(args.sets) if args.sets else ''}",
                 ["clip", "set", "dur s", "truth s", "sf IoU", "HOG IoU", "sf false s", "HOG false s", "sf tracks"],
                 rows, digits=2)
    orows = []
    for name, r in results.items():
        for label, o in r["objects"].items():
            orows.append([name, label, o["truth_s"], o["found_s"], o["fraction"], o["iou"], o["tracks"]])
    _bench.table("Objects (streamfuse only: HOG finds people only)",
                 ["clip", "label", "truth s", "found s", "fraction", "IoU", "tracks"], orows, digits=2)
    street = results.get("car-detection.mp4")
    if street:
        print(f"  car-detection.mp4: true car time {street['objects']['car']['truth_s']:.2f} of "
              f"{street['duration_s']:.2f} s (4 cars); streamfuse labels seen anywhere: "
              f"{', '.join(sorted({lab for r in results.values() for lab in r['streamfuse_labels']})) or 'none'}")
    _bench.save_json(args.json, "people", args, {"clips": results, "summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
