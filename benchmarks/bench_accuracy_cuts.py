"""Scene cuts on spliced real footage: streamfuse vs PySceneDetect's ContentDetector, same files, same run.

The footage is built from the real clips in ../shared/media (see benchmarks/_bench.py): 26 shots
joined at known times (25 cuts), with 7 single white or washed-out frames and 3 fades to black
and back inside shots, which are not cuts. It is encoded twice: H.264 1280x720 30 fps (.mp4) and
VP8 854x480 24 fps (.mkv). ``--quick``: the first 8 shots (7 cuts, 3 flashes, 1 fade).

Per clip and detector: cuts found within 0.1 s of a true cut (one-to-one), precision, recall,
F1, the mean timing error of the found cuts, and how many flashes and fades fired as a cut
(a reported cut within 0.1 s of the flash frame, or inside the fade +- 0.1 s; should be 0).
streamfuse's cuts are its ``scene.cut`` events; it also reports flashes as ``flash`` events.
PySceneDetect runs with its defaults (``detect(path, ContentDetector())``, OpenCV backend);
a cut is the start of each scene after the first. A timeline picture of the truth and of both
detectors' cuts is written to benchmarks/out/accuracy/cuts-timeline.png.

    python benchmarks/bench_accuracy_cuts.py [--quick] [--set KEY=VALUE]... [--json PATH]
"""

from __future__ import annotations

import sys
import time

import cv2
import numpy as np

import _bench
from streamfuse.testing.scoring import fired_in, match_times, of_kind, onsets

TOLERANCE = 0.1


def scenedetect_cuts(path) -> tuple[list[float] | None, float]:
    """PySceneDetect's ContentDetector with its defaults: the cut times and the wall time."""
    try:
        from scenedetect import ContentDetector, detect
    except ImportError:
        _bench.progress("PySceneDetect is not installed (pip install -e '.[bench]'): no peer figures")
        return None, 0.0
    t0 = time.perf_counter()
    scenes = detect(str(path), ContentDetector())
    return [start.seconds for start, _ in scenes[1:]], time.perf_counter() - t0


def score(truth, cuts: list[float]) -> dict:
    m = match_times([float(t) for t in truth.cut_times], cuts, TOLERANCE)
    step = float(1 / truth.fps)
    flashes = [(float(t) - TOLERANCE, float(t) + step + TOLERANCE) for t in truth.flash_times]
    fades = [(float(a) - TOLERANCE, float(b) + TOLERANCE) for a, b in truth.fade_spans]
    errors = [abs(e) * 1000 for e in m.errors]
    return {"cuts": m.truth, "found": m.found, "hits": m.hits, "precision": m.precision, "recall": m.recall,
            "f1": m.f1, "mean_error_ms": sum(errors) / len(errors) if errors else None,
            "flashes": len(flashes), "flashes_fired": fired_in(flashes, cuts),
            "fades": len(fades), "fades_fired": fired_in(fades, cuts),
            "missed": sorted(set(float(t) for t in truth.cut_times) - {t for t, _ in m.pairs}),
            "false": sorted(set(cuts) - {f for _, f in m.pairs}), "reported": sorted(cuts)}


def timeline(path, clips: list[tuple[str, object, dict[str, dict | None]]]) -> None:
    """A picture of each clip's truth (cuts green, flashes yellow, fades grey) above each detector's
    cuts (found green, false red; a missed cut is a short grey mark)."""
    width, left, row = 1600, 130, 26
    height = sum(row * (2 + len(found)) for _, _, found in clips) + 10
    img = np.full((height, width, 3), 255, np.uint8)
    y = 0
    for name, truth, found in clips:
        span = float(truth.duration)
        x = lambda t: int(left + (width - left - 10) * t / span)  # noqa: E731
        cv2.putText(img, f"{name} ({span:.1f} s)", (4, y + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
        for s in range(0, int(span) + 1, 5):
            cv2.putText(img, f"{s}", (x(s) - 6, y + 18), cv2.FONT_HERSHEY_SIMPLEX, 0.35, (120, 120, 120), 1)
        y += row
        cv2.putText(img, "truth", (4, y + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
        for a, b in truth.fade_spans:
            cv2.rectangle(img, (x(float(a)), y + 3), (x(float(b)), y + row - 3), (170, 170, 170), -1)
        for t in truth.cut_times:
            cv2.line(img, (x(float(t)), y + 2), (x(float(t)), y + row - 2), (0, 160, 0), 2)
        for t in truth.flash_times:
            cv2.line(img, (x(float(t)), y + 2), (x(float(t)), y + row - 2), (0, 200, 230), 2)
        for who, s in found.items():
            y += row
            cv2.putText(img, who, (4, y + 17), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1)
            cv2.line(img, (left, y + row // 2), (width - 10, y + row // 2), (225, 225, 225), 1)
            if s is None:
                continue
            for t in s["missed"]:
                cv2.line(img, (x(t), y + row - 8), (x(t), y + row - 2), (150, 150, 150), 2)
            for t in s["reported"]:
                colour = (0, 0, 220) if t in s["false"] else (0, 160, 0)
                cv2.line(img, (x(t), y + 2), (x(t), y + row - 2), colour, 2)
        y += row
    cv2.imwrite(str(path), img)


def main() -> int:
    args = _bench.parser(__doc__).parse_args()
    _bench.need_media()
    pipeline = _bench.Pipeline()
    results, rows, drawn = {}, [], []
    for name in _bench.SPLICES:
        truth = _bench.spliced(name, args.quick)
        run = pipeline.run([truth.path], args.sets, f"cuts-{name}")[truth.path.name]
        if not run.ok:
            print(f"streamfuse failed on {truth.path.name}: {run.error}", file=sys.stderr)
            return 1
        ours = score(truth, onsets(of_kind(run.events, "scene.cut")))
        flash_events = onsets(of_kind(run.events, "flash"))
        step = float(1 / truth.fps)
        ours["flashes_reported"] = fired_in([(float(t) - TOLERANCE, float(t) + step + TOLERANCE)
                                             for t in truth.flash_times], flash_events)
        _bench.progress(f"PySceneDetect on {truth.path.name}")
        peer_cuts, peer_wall = scenedetect_cuts(truth.path)
        peer = score(truth, peer_cuts) if peer_cuts is not None else None
        results[name] = {"duration_s": float(truth.duration), "streamfuse": ours, "pyscenedetect": peer,
                         "pyscenedetect_wall_s": round(peer_wall, 2)}
        drawn.append((name, truth, {"streamfuse": ours, "PySceneDetect": peer}))
        for who, s in (("streamfuse", ours), ("PySceneDetect", peer)):
            if s is None:
                rows.append([name, who, *["-"] * 9])
                continue
            rows.append([name, who, s["cuts"], s["found"], s["hits"], s["precision"], s["recall"], s["f1"],
                         s["mean_error_ms"], f"{s['flashes_fired']}/{s['flashes']}", f"{s['fades_fired']}/{s['fades']}"])
    _bench.table(f"Scene cuts on spliced real footage ({'quick' if args.quick else 'full'}), within {TOLERANCE} s"
                 f"{' with ' + ' '.join(args.sets) if args.sets else ''}",
                 ["clip", "detector", "cuts", "found", "hits", "prec", "recall", "F1", "err ms", "flash->cut",
                  "fade->cut"], rows, digits=2)
    for name, r in results.items():
        print(f"  {name}: streamfuse reported {r['streamfuse']['flashes_reported']}/{r['streamfuse']['flashes']} "
              f"inserted flashes as flash events; PySceneDetect took {r['pyscenedetect_wall_s']:.1f} s "
              f"(loaded machine)")
    picture = _bench.OUT / "accuracy" / f"cuts-timeline{'-quick' if args.quick else ''}.png"
    timeline(picture, drawn)
    print(f"  timeline: {picture}")
    _bench.save_json(args.json, "cuts", args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
