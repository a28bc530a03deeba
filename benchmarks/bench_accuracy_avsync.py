"""A/V sync at the default settings: one-frame flashes and 50 ms beeps at known times, as reported.

A generated clip (streamfuse.testing.make_av_sync_clip): 25 fps, white one-frame flashes on dark
grey and 50 ms 1 kHz beeps at the same times, 0.35 + 0.68 k s moved to frames (0.36, 1.04,
1.72 ...; never on the 1 s window grid), 16 s (23 pairs; ``--quick``: 8 s, 12 pairs), PCM audio
in Matroska, so every true time is exact. The period is 17 frames, so the flashes fall on every
phase of a 10 fps analysis grid in turn: a detector that looks only at frames sampled at 10 fps
can see about 2 in 5 (the period 0.7 s would put every flash between sampled frames).
Reported: streamfuse's ``flash`` events and ``sound`` events (onsets; a named sound that says it is
``same_sound_as`` an onset reported before is that onset's name, not a report), each matched to the
nearest true time within half the period (0.34 s). Printed: how many were found, their timing
error (reported - true: mean, mean absolute, max absolute, ms), the false ones, scene cuts fired
on the flashes (should be 0), and the A/V offset as streamfuse sees it (reported beep time -
reported flash time, for pairs where both were found). The truth is the peer.

    python benchmarks/bench_accuracy_avsync.py [--quick] [--set KEY=VALUE]... [--json PATH]
"""

from __future__ import annotations

import sys

import _bench
from streamfuse.testing import make_av_sync_clip
from streamfuse.testing.scoring import match_times, of_kind, onsets

PERIOD, FIRST = 0.68, 0.35


def stats(truth: list[float], found: list[float]) -> dict:
    m = match_times(truth, found, PERIOD / 2)
    errors = [e * 1000 for e in m.errors]
    return {"true": m.truth, "reported": m.found, "matched": m.hits, "false": m.found - m.hits,
            "mean_ms": sum(errors) / len(errors) if errors else None,
            "mean_abs_ms": sum(map(abs, errors)) / len(errors) if errors else None,
            "max_abs_ms": max(map(abs, errors)) if errors else None, "pairs": m.pairs}


def main() -> int:
    args = _bench.parser(__doc__).parse_args()
    duration = 8 if args.quick else 16
    folder = _bench.OUT / "avsync"
    folder.mkdir(parents=True, exist_ok=True)
    truth = make_av_sync_clip(folder / f"avsync-{duration}s.mkv", duration=duration, period=PERIOD, first=FIRST,
                              fps=25, flash_frames=1, beep_length=0.05)
    run = _bench.Pipeline().run([truth.path], args.sets, "avsync")[truth.path.name]
    if not run.ok:
        print(f"streamfuse failed: {run.error}", file=sys.stderr)
        return 1
    flashes = stats([float(t) for t in truth.flash_times], onsets(of_kind(run.events, "flash")))
    sounds = of_kind(run.events, "sound")
    # a name the tagger gave a sound whose level onset was reported already says so (same_sound_as):
    # it labels that report, it is not a second one
    named_later = [e for e in sounds if "same_sound_as" in e["data"].get("evidence", {})]
    beeps = stats([float(t) for t in truth.beep_times], onsets([e for e in sounds if e not in named_later]))
    cuts = match_times([float(t) for t in truth.flash_times], onsets(of_kind(run.events, "scene.cut")), 0.1).hits
    seen_flash = {t: f for t, f in flashes["pairs"]}
    offsets = [(b - seen_flash[t]) * 1000 for t, b in beeps["pairs"] if t in seen_flash]
    rows = [[name, s["true"], s["reported"], s["matched"], s["false"], s["mean_ms"], s["mean_abs_ms"], s["max_abs_ms"]]
            for name, s in (("flashes (flash events)", flashes), ("beeps (sound events)", beeps))]
    _bench.table(f"A/V sync, {duration} s at 25 fps, one-frame flashes and 50 ms beeps every {PERIOD} s"
                 f"{' with ' + ' '.join(args.sets) if args.sets else ''}",
                 ["what", "true", "reported", "matched", "false", "mean ms", "|mean| ms", "|max| ms"], rows, digits=1)
    offset = {"pairs": len(offsets), "mean_ms": sum(offsets) / len(offsets) if offsets else None,
              "max_abs_ms": max(map(abs, offsets)) if offsets else None}
    print(f"  flashes reported as scene cuts: {cuts}/{len(truth.flash_times)}")
    print(f"  beeps named by the tagger after their level onset was reported (same_sound_as): {len(named_later)}")
    print(f"  A/V offset as reported (beep - flash) over {offset['pairs']} pairs: mean "
          f"{_bench.fmt(offset['mean_ms'], 1)} ms, max |{_bench.fmt(offset['max_abs_ms'], 1)}| ms")
    for s in (flashes, beeps):
        s.pop("pairs")
    _bench.save_json(args.json, "avsync", args, {"flashes": flashes, "beeps": beeps, "flashes_as_cuts": cuts,
                                                  "offset": offset, "duration_s": duration})
    return 0


if __name__ == "__main__":
    sys.exit(main())
