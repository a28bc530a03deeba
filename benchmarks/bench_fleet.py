"""Camera fleet benchmark: N loopback cameras (640x360, 25 fps, MPEG-TS over TCP) in one process,
objects (SSD) and sound labels (YAMNet) on, with the fleet's shared models (one detector batched
across cameras, one YAMNet) beside the baseline of every camera loading its own models (what N
``watch`` processes do, less the interpreter). Each run is a fresh subprocess; the feeds are sent
by this driver process, so their cost is not counted.

Per run: cameras, windows per camera per second of wall time (2 s windows, 1 s hop: 1.0 = keeping
up), frames dropped / in, window latency p95, process CPU seconds per camera per wall second,
resident memory (RSS) after the run, and the shared detector's calls and largest batch. Mode
``shared-clips`` adds snapshots and a clip (5 s before to 5 s after) of every motion and flash event,
to show what keeping clips costs; ``clips`` counts the clips written.

    nice -n 15 .venv/bin/python benchmarks/bench_fleet.py --cameras 1 2 4 --seconds 20
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

SETS = ["encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.faces.enabled=false",
        "encoders.vad.enabled=false", "encoders.people.enabled=false", "encoders.objects.enabled=true",
        "encoders.sounds.enabled=true", "live.stall_timeout=5", "live.connect_timeout=5"]


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def measure(urls: list[str], shared: bool, seconds: float, workers: int = 1, media: bool = False) -> dict:
    import tempfile

    import torch

    torch.set_num_threads(1)
    from streamfuse.config.loader import _merge, parse_set
    from streamfuse.fleet.config import camera
    from streamfuse.fleet.runner import Fleet

    data: dict = {}
    for s in SETS:
        data = _merge(data, parse_set(s))
    folder = tempfile.mkdtemp(prefix="bench-fleet-media-")
    extra = ({"snapshots": {"dir": folder}, "clips": {"pre": 5, "post": 5, "types": ["motion", "flash"]}}
             if media else {})
    cams = [camera(f"cam{i}", url, data, **extra) for i, url in enumerate(urls)]
    rss0 = _rss_mb()
    fleet = Fleet([], shared=shared, detector_workers=workers)
    t_load = time.perf_counter()
    fleet.start(cams)
    load_s = time.perf_counter() - t_load
    rss_loaded = _rss_mb()
    cpu0 = time.process_time()
    time.sleep(seconds)
    cpu = time.process_time() - cpu0
    pool_stats = fleet.pool.stats()
    stats = fleet.stop()
    lat = sorted(v for s in stats.values() for v in s.latencies)
    p95 = lat[min(len(lat) - 1, round(0.95 * (len(lat) - 1)))] if lat else None
    frames = sum(s.frames_in for s in stats.values())
    dropped = sum(sum(s.dropped.values()) for s in stats.values())
    windows = [s.windows for s in stats.values()]
    det = next(iter(pool_stats["detectors"].values()), {})
    clips = len([p for p in Path(folder).rglob("*.mp4")])
    shutil.rmtree(folder, ignore_errors=True)
    name = (f"shared x{workers}" if workers > 1 else "shared") if shared else "per-camera"
    return {"cameras": len(urls), "models": name + (" +clips" if media else ""), "clips": clips,
            "windows_per_camera_s": round(sum(windows) / len(windows) / seconds, 2),
            "min_windows_camera_s": round(min(windows) / seconds, 2),
            "dropped": dropped, "frames_in": frames, "latency_p95_s": round(p95, 2) if p95 is not None else None,
            "cpu_per_camera": round(cpu / seconds / len(urls), 2), "start_s": round(load_s, 1),
            "rss_mb": round(_rss_mb()), "rss_loaded_mb": round(rss_loaded), "rss_base_mb": round(rss0),
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
            "detector_calls": det.get("calls"), "detector_max_cameras_per_call": det.get("max_requests")}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--cameras", type=int, nargs="+", default=[1, 2, 4])
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--modes", nargs="+", default=["shared", "per-camera"],
                    help="shared, shared2 (two detector copies, each on a worker thread), per-camera, "
                         "shared-clips (shared, with a clip of 5 s before to 5 s after every motion and flash)")
    ap.add_argument("--one", nargs=2, metavar=("MODE", "URLS"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        mode = args.one[0]
        print(json.dumps(measure(args.one[1].split(","), mode.startswith("shared"), args.seconds,
                                 workers=2 if mode == "shared2" else 1, media=mode == "shared-clips")))
        return
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sys.path.insert(0, root)
    from streamfuse.testing.live_feed import LiveFeed

    feeds = [LiveFeed("tcp", size=(640, 360), fps=25, flashes=(1.0 + i * 0.4,)).start() for i in range(max(args.cameras))]
    rows = []
    try:
        for n in args.cameras:
            for mode in args.modes:
                urls = ",".join(f.url for f in feeds[:n])
                env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=root)  # this checkout's streamfuse
                out = subprocess.run([sys.executable, __file__, "--seconds", str(args.seconds), "--one", mode, urls],
                                     capture_output=True, text=True, env=env, timeout=args.seconds + 300)
                line = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
                if out.returncode != 0 or not line.startswith("{"):
                    print(f"{n} cameras, {mode}: failed\n{out.stderr[-2000:]}", file=sys.stderr)
                    continue
                row = json.loads(line)
                rows.append(row)
                print(json.dumps(row), flush=True)
    finally:
        for f in feeds:
            f.stop()
    print("\ncameras models         win/cam/s  min  dropped/in    p95 s  cpu/cam  rss MB  (loaded)  det calls  "
          "max cams/call  clips")
    for r in rows:
        print(f"{r['cameras']:>7} {r['models']:<14} {r['windows_per_camera_s']:>9} {r['min_windows_camera_s']:>4} "
              f"{r['dropped']:>6}/{r['frames_in']:<6} {r['latency_p95_s']!s:>6} {r['cpu_per_camera']:>8} "
              f"{r['rss_mb']:>7} {r['rss_loaded_mb']:>9} {r['detector_calls']!s:>10} {r['detector_max_cameras_per_call']!s:>14} {r['clips']:>6}")


if __name__ == "__main__":
    main()
