"""Speed on spliced real footage: streamfuse with and without start-up, beside plain PyAV decoding
and PySceneDetect on the same file, in the same run (media seconds per wall second).

The file is the H.264 1280x720 30 fps splice of bench_accuracy_cuts.py (66.3 s of real shots
with AAC sound; ``--quick``: its first 20.3 s). Rows:
- PyAV decoding every video frame and the audio (threaded, as streamfuse decodes): the ceiling;
- streamfuse from a cold start: ``python -m streamfuse analyze FILE`` in a new process, timed
  from launch to exit (interpreter, imports, model loading, writing the results);
- streamfuse warm: in this process after a warm-up run has loaded the models, the median of
  ``--repeat`` runs, at the defaults and without speech recognition (``encoders.asr.enabled=false``);
- PySceneDetect's ContentDetector (``detect(path, ContentDetector())``), the cut-detection peer.
``--set`` applies to every streamfuse row. On a shared machine these numbers are not final: run
it on a quiet one (``nproc`` and the load average are printed and saved).

    python benchmarks/bench_speed_real.py [--quick] [--repeat 3] [--set KEY=VALUE]... [--json PATH]
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from statistics import median

import av

import _bench

NO_ASR = ["encoders.asr.enabled=false"]


def pyav_decode(path) -> float:
    t0 = time.perf_counter()
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        v.thread_type = "AUTO"
        for packet in c.demux([v, *c.streams.audio[:1]]):
            for _ in packet.decode():
                pass
    return time.perf_counter() - t0


def cold_start(path, sets: list[str]) -> float:
    """Wall seconds of ``python -m streamfuse analyze`` in a fresh process."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "streamfuse", "analyze", str(path), "-o", out]
        for s in sets:
            command += ["--set", s]
        env = dict(os.environ, PYTHONPATH=str(_bench.ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
        t0 = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - t0
    if done.returncode:
        raise SystemExit(f"streamfuse analyze failed ({done.returncode}): {done.stderr.strip()[-500:]}")
    return wall


def warm(pipeline: _bench.Pipeline, path, sets: list[str], repeat: int, label: str) -> list[float]:
    walls = []
    for i in range(repeat):
        t0 = time.perf_counter()
        run = pipeline.run([path], sets, f"{label}-{i}")[path.name]
        walls.append(time.perf_counter() - t0)
        if not run.ok:
            raise SystemExit(f"streamfuse failed: {run.error}")
    return walls


def main() -> int:
    ap = _bench.parser(__doc__)
    ap.add_argument("--repeat", type=int, default=None, help="warm runs per setting (default 1 with --quick, else 3)")
    args = ap.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    truth = _bench.spliced("h264-720p30", args.quick)
    media = float(truth.duration)
    rows, results = [], {"media_s": media, "file": truth.path.name}

    def row(name: str, walls: list[float], note: str = "") -> None:
        wall = median(walls)
        results[name] = {"wall_s": [round(w, 3) for w in walls], "speed": round(media / wall, 2)}
        rows.append([name, wall, media / wall, note])

    _bench.progress("PyAV decoding")
    row("PyAV decode (video + audio)", [pyav_decode(truth.path) for _ in range(repeat)])
    _bench.progress("streamfuse from a cold start (a new process)")
    row("streamfuse cold (new process)", [cold_start(truth.path, args.sets)], "launch to exit, models loaded")
    pipeline = _bench.Pipeline()
    _bench.progress("warm-up run (loads the models)")
    warm(pipeline, _bench.spliced("h264-720p30", True).path if not args.quick else truth.path, args.sets, 1,
         "speed-warmup")
    row("streamfuse warm (defaults)", warm(pipeline, truth.path, args.sets, repeat, "speed-default"), f"median of {repeat}")
    row("streamfuse warm, no ASR", warm(pipeline, truth.path, args.sets + NO_ASR, repeat, "speed-no-asr"),
        f"median of {repeat}")
    try:
        from scenedetect import ContentDetector, detect

        _bench.progress("PySceneDetect")
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            detect(str(truth.path), ContentDetector())
            walls.append(time.perf_counter() - t0)
        row("PySceneDetect ContentDetector", walls, "cuts only")
    except ImportError:
        rows.append(["PySceneDetect ContentDetector", None, None, "not installed (pip install -e '.[bench]')"])
    load = os.getloadavg()
    _bench.table(f"Speed on {truth.path.name} ({media:.1f} s, H.264 1280x720 30 fps + AAC)"
                 f"{' with ' + ' '.join(args.sets) if args.sets else ''}",
                 ["what", "wall s", "x real time", "note"], rows, digits=2)
    print(f"  {os.cpu_count()} CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}: "
          "not final figures unless the machine was quiet")
    _bench.save_json(args.json, "speed_real", args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
