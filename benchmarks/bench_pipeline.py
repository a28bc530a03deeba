"""Throughput of the core pipeline, measured in one run (the machine is noisy: compare ratios).

On a generated 60 s 1280x720 30 fps H.264 + AAC clip, prints media-seconds per wall-second for
  (a) PyAV decoding every frame alone (threaded, as streamfuse decodes),
  (b) streamfuse producing windows only (encoders off; by default frames no other frame refers
      to are not decoded when the analysis rate is at most half the source's, see decode.skip_frames),
  (b') the same decoding every frame (decode.skip_frames=none),
  (c) the default pipeline,
on the local and the Ray runtime, and the ratios b/a and c/a. Goal: b/a >= 0.8.

    .venv/bin/python benchmarks/bench_pipeline.py [--duration 60] [--skip-ray] [--skip-default]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import av  # noqa: E402

from streamfuse.config import load_config  # noqa: E402
from streamfuse.runtime.analyze import analyze_source  # noqa: E402
from streamfuse.runtime.local import LocalRuntime  # noqa: E402
from streamfuse.sources.resolve import resolve_inputs  # noqa: E402
from streamfuse.testing.media import make_bench_clip, make_sample_clip  # noqa: E402


def decode_only(path: str) -> float:
    t0 = time.perf_counter()
    with av.open(path) as c:
        v = c.streams.video[0]
        v.thread_type = "AUTO"
        streams = [v] + list(c.streams.audio[:1])
        for packet in c.demux(streams):
            for _ in packet.decode():
                pass
    return time.perf_counter() - t0


def pipeline(path: str, runtime, sets: list[str], out: str) -> tuple[float, dict]:
    """Steady-state time: models load once per process (per actor on Ray) in a warm-up run first."""
    config = load_config(sets=sets)
    warm = Path(__file__).resolve().parent / "out" / "warmup.mkv"
    if not warm.exists():
        make_sample_clip(warm, duration=2.0)
    (source,) = resolve_inputs([str(warm)])
    analyze_source(source, config, runtime, out, progress=False)
    (source,) = resolve_inputs([path])
    t0 = time.perf_counter()
    result = analyze_source(source, config, runtime, out, progress=False)
    if not result.ok:
        raise SystemExit(f"pipeline failed: {result.error}")
    return time.perf_counter() - t0, result.summary


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--duration", type=float, default=60.0)
    ap.add_argument("--skip-ray", action="store_true")
    ap.add_argument("--skip-default", action="store_true", help="skip (c), the full default pipeline")
    ap.add_argument("--preset", default="veryfast",
                    help="x264 preset of the generated clip: veryfast (CABAC + B-frames, like most real "
                         "footage; default) or ultrafast (decodes unusually cheaply)")
    args = ap.parse_args()

    cache = Path(__file__).resolve().parent / "out"
    cache.mkdir(exist_ok=True)
    clip = cache / f"bench_{int(args.duration)}s_720p30_{args.preset}.mp4"
    if not clip.exists():
        print(f"generating {clip} ...", file=sys.stderr)
        make_bench_clip(clip, duration=args.duration, preset=args.preset)
    with av.open(str(clip)) as c:
        media = c.duration / 1_000_000

    runtimes = [("local", LocalRuntime)]
    if not args.skip_ray:
        from streamfuse.runtime.ray_runtime import RayRuntime
        runtimes.append(("ray", lambda: RayRuntime(max_in_flight=4)))

    rows = []
    with tempfile.TemporaryDirectory() as out:
        a = decode_only(str(clip))
        rows.append(("(a) PyAV decode only", "-", media / a))
        for name, make in runtimes:
            rt = make()
            try:
                b, _ = pipeline(str(clip), rt, ["encoders.enabled=false"], out)
                rows.append(("(b) windows only", name, media / b))
                b2, _ = pipeline(str(clip), rt, ["encoders.enabled=false", "decode.skip_frames=none"], out)
                rows.append(("(b') windows, all frames", name, media / b2))
                if not args.skip_default:
                    c_, summary = pipeline(str(clip), rt, [], out)
                    rows.append(("(c) default pipeline", name, media / c_))
            finally:
                rt.close()

    print(f"\nclip: {clip.name}, {media:.1f} s of 1280x720 30 fps H.264 ({args.preset}) + AAC, "
          f"{os.cpu_count()} CPUs")
    print(f"{'measure':<24} {'runtime':<8} {'media s / wall s':>16} {'ratio to (a)':>13}")
    base = rows[0][2]
    for label, rt, speed in rows:
        print(f"{label:<24} {rt:<8} {speed:>16.2f} {speed / base:>13.2f}")
    b_local = next(s for label, rt, s in rows if label.startswith("(b)") and rt == "local")
    b2_local = next(s for label, rt, s in rows if label.startswith("(b')") and rt == "local")
    print(f"\nb/a (local) = {b_local / base:.2f}  (goal >= 0.8); decoding every frame: {b2_local / base:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
