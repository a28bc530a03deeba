"""Speed and memory of the default perception pipeline, measured in one run (compare ratios).

Prints, on this machine:
  1. ASR speed on speech: seconds of speech recognised per wall second (jfk.flac, 11 s).
  2. The default pipeline on a 60 s 1280x720 30 fps H.264 clip, media seconds per wall second,
     without ASR (tones only; the median of ``--repeat`` runs, and the same with decoding in a
     thread instead of the worker process) and with ASR (the same video with speech: jfk.flac looped).
  3. Peak resident memory (this process, and the decoding worker) for a 10-minute and a 60-minute
     generated input (FFmpeg's lavfi test source, 640x360 25 fps + a tone), each in its own
     process: memory stays flat with length.

    .venv/bin/python benchmarks/bench_perception.py [--skip-memory] [--memory-minutes 10 60] [--compare]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from fractions import Fraction
from statistics import median
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

import av  # noqa: E402
import numpy as np  # noqa: E402

HERE = Path(__file__).resolve().parent
MEDIA = HERE.parent.parent / "shared" / "media"
OUT = HERE / "out"


def asr_speed() -> None:
    from streamfuse.encode.text.asr import AsrConfig
    from streamfuse.encode.text.asr import AsrEncoder
    from streamfuse.testing.windows import windows_from_audio

    with av.open(str(MEDIA / "jfk" / "jfk.flac")) as c:
        rs = av.AudioResampler(format="flt", layout="mono", rate=16000)
        chunks = [np.frombuffer(o.planes[0], np.float32, count=o.samples).copy()
                  for f in c.decode(audio=0) for o in rs.resample(f)]
    audio = np.concatenate(chunks)
    encoder = AsrEncoder(AsrConfig())  # loads and warms the model: not timed
    t0 = time.perf_counter()
    for w in windows_from_audio(audio, length=2.0, hop=1.0, source_id="jfk"):
        encoder(w)
    wall = time.perf_counter() - t0
    speech = encoder.stats["audio_seconds"]
    print(f"1. ASR on speech: {speech:.1f} s of speech in {wall:.2f} s -> {speech / wall:.1f}x real time "
          "(goal >= 10x)")


def speech_clip(video: Path, out: Path) -> Path:
    """``video``'s picture with jfk.flac looped as its sound (AAC), copied without re-encoding video."""
    if out.exists():
        return out
    with av.open(str(MEDIA / "jfk" / "jfk.flac")) as c:
        rs = av.AudioResampler(format="fltp", layout="mono", rate=44100)
        speech = np.concatenate([o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in rs.resample(f)])
    with av.open(str(video)) as src, av.open(str(out), "w") as dst:
        vin = src.streams.video[0]
        vout = dst.add_stream_from_template(vin)
        aout = dst.add_stream("aac", rate=44100, layout="mono")
        duration = src.duration / 1_000_000
        total = int(duration * 44100)
        sound = np.tile(speech, total // len(speech) + 1)[:total].astype(np.float32)
        for packet in src.demux(vin):
            if packet.dts is None:
                continue
            packet.stream = vout
            dst.mux(packet)
        for i in range(0, total, 1024):
            frame = av.AudioFrame.from_ndarray(sound[i:i + 1024].reshape(1, -1), format="fltp", layout="mono")
            frame.sample_rate, frame.pts, frame.time_base = 44100, i, Fraction(1, 44100)
            dst.mux(aout.encode(frame))
        dst.mux(aout.encode(None))
    return out


def pipeline_speed(path: Path, sets: list[str], repeat: int = 1) -> tuple[list[float], dict]:
    """Steady-state speeds of ``repeat`` runs: models are loaded (once per process) by a warm-up run
    on a 2 s clip first."""
    from streamfuse.config import load_config
    from streamfuse.runtime.analyze import analyze_source
    from streamfuse.runtime.local import LocalRuntime
    from streamfuse.sources.resolve import resolve_inputs
    from streamfuse.testing.media import make_sample_clip
    warm = OUT / "warmup.mkv"
    if not warm.exists():
        make_sample_clip(warm, duration=2.0)
    config = load_config(sets=sets)
    speeds = []
    for p in (warm, *[path] * repeat):
        (source,) = resolve_inputs([str(p)])
        result = analyze_source(source, config, LocalRuntime(), OUT / "perception", progress=False)
        if not result.ok:
            raise SystemExit(result.error)
        speeds.append(result.summary["speed"])
    return speeds[1:], result.summary


def peak_rss_mib(pid: int) -> float:
    """Peak resident memory of a live process (Linux: VmHWM)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


#: ``--compare``: what each speed choice buys, on the 720p clip without ASR
SETTINGS = {
    "defaults": [],
    "faces at 2 fps": ["encoders.faces.rate=2"],
    "people at 1 fps": ["encoders.people.rate=1"],
    "last stop's detector settings": ["encoders.faces.rate=2", "encoders.people.rate=1",
                                      "encoders.people.scale_factor=1.1"],
    "the same, decoding in a thread": ["encoders.faces.rate=2", "encoders.people.rate=1",
                                       "encoders.people.scale_factor=1.1", "runtime.source_worker=thread"],
}


def compare(clip: Path, repeat: int) -> None:
    """The SETTINGS interleaved (noise hits them alike), ``repeat`` rounds; medians."""
    speeds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(repeat):
        for name, sets in SETTINGS.items():
            speeds[name] += pipeline_speed(clip, ["encoders.asr.enabled=false", *sets])[0]
    for name, runs in speeds.items():
        print(f"   {name:<32} median {median(runs):5.1f}x ({', '.join(f'{s:.1f}' for s in runs)})")


def memory_child(minutes: int) -> None:
    """Run in a child process: analyse a generated input of ``minutes``, print peak RSS (MiB)."""
    from streamfuse.config import load_config
    from streamfuse.runtime.analyze import analyze_source
    from streamfuse.runtime.local import LocalRuntime
    from streamfuse.sources.resolve import Source

    seconds = minutes * 60
    graph = (f"testsrc2=size=640x360:rate=25:duration={seconds}[out0];"
             f"sine=frequency=440:beep_factor=4:sample_rate=16000:duration={seconds}[out1]")
    source = Source(uri=graph, id=f"lavfi-{minutes}min", name=f"generated-{minutes}min", format="lavfi")
    config = load_config(sets=["encoders.people.enabled=false", "encoders.asr.enabled=false",
                               "encoders.faces.rate=1"])
    t0 = time.perf_counter()
    result = analyze_source(source, config, LocalRuntime(), OUT / "memory", progress=False)
    if not result.ok:
        raise SystemExit(result.error)
    from streamfuse.runtime.source_process import _pool
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    worker = max(peak_rss_mib(pid) for pid in _pool.pids())
    print(json.dumps({"minutes": minutes, "peak_rss_mib": round(peak, 1), "worker_peak_rss_mib": round(worker, 1),
                      "windows": result.summary["windows"], "wall_s": round(time.perf_counter() - t0, 1)}))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-memory", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--memory-minutes", type=int, nargs="+", default=[10, 60])
    ap.add_argument("--repeat", type=int, default=3, help="runs of the 720p clip per setting (the machine is noisy)")
    ap.add_argument("--compare", action="store_true", help="also compare speed settings (detector rates, HOG step, "
                                                           "decoding in a thread), interleaved")
    ap.add_argument("--memory-child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.memory_child:
        memory_child(args.memory_child)
        return 0
    OUT.mkdir(exist_ok=True)
    if not args.skip_speed:
        asr_speed()
        from streamfuse.testing.media import make_bench_clip
        clip = OUT / "bench_60s_720p30_veryfast.mp4"
        if not clip.exists():
            make_bench_clip(clip, duration=60, preset="veryfast")
        talk = speech_clip(clip, OUT / "bench_60s_720p30_speech.mp4")
        runs = args.repeat
        no_asr, _ = pipeline_speed(clip, ["encoders.asr.enabled=false"], runs)
        in_thread, _ = pipeline_speed(clip, ["encoders.asr.enabled=false", "runtime.source_worker=thread"], runs)
        with_asr, summary = pipeline_speed(talk, [], 1)
        print(f"2. default pipeline, 720p30 H.264, without ASR (goal >= 15x): median {median(no_asr):.1f}x real "
              f"time over {runs} runs ({', '.join(f'{s:.1f}' for s in no_asr)}); decoding in a thread instead of "
              f"the worker process: median {median(in_thread):.1f}x "
              f"(worker/thread = {median(no_asr) / median(in_thread):.2f})")
        print(f"   with ASR on continuous speech (goal >= 5x): {with_asr[0]:.1f}x; "
              f"transcript segments: {summary['transcript_segments']}")
        if args.compare:
            print("   settings compared, without ASR:")
            compare(clip, runs)
    if not args.skip_memory:
        rows = []
        for minutes in args.memory_minutes:
            proc = subprocess.run([sys.executable, __file__, "--memory-child", str(minutes)], capture_output=True,
                                  text=True, check=True)
            rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            print(f"3. {minutes:>3}-minute input: peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB "
                  f"(+ decoding worker {rows[-1]['worker_peak_rss_mib']:.0f} MiB), "
                  f"{rows[-1]['windows']} windows, {rows[-1]['wall_s']:.0f} s")
        if len(rows) >= 2:
            print(f"   peak RSS ratio {rows[-1]['minutes']} min / {rows[0]['minutes']} min = "
                  f"{rows[-1]['peak_rss_mib'] / rows[0]['peak_rss_mib']:.2f} (flat = 1.0)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
