"""Archive throughput and search latency.

Batch: a folder of generated clips of mixed formats (H.264+AAC+subtitles .mkv, H.264 .mp4, FLAC,
WAV), analysed

* by the **single-file pipeline**, file after file (``analyze`` with one ``LocalRuntime``: the
  baseline, what ``streamfuse analyze FILE`` does per file, without the archive's hashing, journal
  and index),
* by the **archive batch** in this process (``--runtime local``), with its index,
* by the archive batch on **Ray** with 1 and 2 workers (Ray started once, its start-up reported
  apart),
* and **rerun** (every input already done: hashing from the journal's cache, the check of each
  result, nothing analysed) against the first run.

Figures: media hours per wall hour (= times real time), files per minute, ratio to the baseline.

Search: an index of ``--windows`` windows (default 100,000; 384-d unit vectors and descriptions
drawn from a vocabulary), queried with the bundled MiniLM model; p50/p95 of ``search()`` (query
embedding included) beside exact brute-force cosine ranking in NumPy over the same vectors (the
peer: what one would write without an index; words not included).

    python benchmarks/bench_archive.py [--files 8] [--seconds 6] [--windows 100000] [--set key=value]...
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

#: the default sets of this benchmark: encoders that run on 2 CPU cores in reasonable time
CHEAP = ["encoders.asr.enabled=false", "encoders.people.enabled=false", "encoders.objects.enabled=false",
         "encoders.sounds.enabled=false"]


def make_folder(folder: Path, files: int, seconds: float) -> list[Path]:
    from streamfuse.testing import media as gen
    kinds = [(gen.make_sample_clip, ".mkv"), (gen.make_video_only_clip, ".mp4"),
             (gen.make_audio_only_clip, ".flac"), (gen.make_audio_only_clip, ".wav")]
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(files):
        fn, ext = kinds[i % len(kinds)]
        out.append(Path(fn(folder / f"clip{i:03d}{ext}", duration=seconds).path))
    return out


def config_for(out: Path, sets: list[str]):
    from streamfuse.config.loader import load_config
    return load_config([], sets, output={"directory": str(out)})


def line(label: str, media: float, wall: float, files: int, base: float | None = None) -> str:
    rtf = media / wall if wall else float("nan")
    ratio = f"  {rtf / base:5.2f}x the baseline" if base else ""
    return (f"  {label:<34} {wall:7.1f} s  {rtf:6.2f} media h / wall h  {files / wall * 60:6.1f} files/min{ratio}")


def bench_batch(args) -> None:
    from streamfuse.archive.batch import run_batch
    from streamfuse.runtime.analyze import analyze
    from streamfuse.runtime.local import LocalRuntime
    from streamfuse.sources.resolve import resolve_inputs

    work = Path(tempfile.mkdtemp(prefix="sf-bench-archive-"))
    try:
        paths = make_folder(work / "clips", args.files, args.seconds)
        sources = resolve_inputs([str(work / "clips")])
        sets = CHEAP + list(args.set)
        print(f"archive: {len(paths)} generated clips ({', '.join(sorted({p.suffix for p in paths}))}), "
              f"{args.seconds:g} s each; settings: {' '.join(sets)}")

        # warm-up (models into the page cache, one-off imports), not measured
        run_batch(sources[:1], config_for(work / "warm", sets), work / "warm", runtime="local", index=False)

        t0 = time.perf_counter()
        rt = LocalRuntime()
        base_results = analyze(sources, config_for(work / "base", sets), rt, work / "base", progress=False)
        base_wall = time.perf_counter() - t0
        media = sum(r.summary.get("media_seconds", 0.0) for r in base_results)
        base = media / base_wall
        print(line("single-file pipeline, sequential", media, base_wall, len(sources)))

        rep = run_batch(sources, config_for(work / "local", sets), work / "local", runtime="local")
        print(line("archive batch, local", rep.media_seconds, rep.wall_seconds, len(sources), base))
        rerun = run_batch(sources, config_for(work / "local", sets), work / "local", runtime="local")
        assert len(rerun.skipped) == len(sources)
        print(f"  {'rerun (all done), local':<34} {rerun.wall_seconds:7.2f} s  "
              f"= {100 * rerun.wall_seconds / rep.wall_seconds:.1f}% of the first run")

        import ray

        from streamfuse.archive.workers import RayWorkers
        t0 = time.perf_counter()
        ray.init(include_dashboard=False, log_to_driver=False, configure_logging=False)
        print(f"  ray.init: {time.perf_counter() - t0:.1f} s ({ray.cluster_resources().get('CPU', 0):g} CPUs)")
        ray_sets = sets + ["runtime.source_worker=thread"]
        try:
            for workers in (1, 2):
                out = work / f"ray{workers}"
                t0 = time.perf_counter()
                pool = RayWorkers(config_for(out, ray_sets), out, size=workers)
                # each worker's first file loads its models: measured apart, as a cold start
                run_batch(sources[:workers], config_for(work / "warm-ray", ray_sets), work / f"warm-ray{workers}",
                          runtime="ray", pool=pool, index=False)
                cold = time.perf_counter() - t0
                rep = run_batch(sources, config_for(out, ray_sets), out, runtime="ray", pool=pool)
                print(line(f"archive batch, Ray, {workers} worker(s)", rep.media_seconds, rep.wall_seconds,
                           len(sources), base) + f"  (+{cold:.1f} s worker start and model load)")
                rerun = run_batch(sources, config_for(out, ray_sets), out, runtime="ray", pool=pool)
                pool.close()
            print(f"  {'rerun (all done), Ray':<34} {rerun.wall_seconds:7.2f} s  "
                  f"= {100 * rerun.wall_seconds / rep.wall_seconds:.1f}% of the first run")
        finally:
            ray.shutdown()
    finally:
        shutil.rmtree(work, ignore_errors=True)


VOCAB = ("a person walks into the room", "a car drives past", "someone is speaking", "music plays",
         "a dog barks", "the door closes", "two people talk about the weather", "a bicycle in the parking lot",
         "an empty corridor", "applause from the audience", "a phone rings", "rain on the window",
         "a man reads the news", "children are laughing", "traffic noise in the street", "a bell rings")


def bench_search(args) -> None:
    from streamfuse.archive.index import Index
    from streamfuse.archive.search import Query, search
    from streamfuse.encode.text.embed import TextEmbedder

    work = Path(tempfile.mkdtemp(prefix="sf-bench-search-"))
    try:
        rng = np.random.default_rng(0)
        embedder = TextEmbedder()
        base = embedder.embed(list(VOCAB))
        n = args.windows
        # vectors near the vocabulary's meanings, so queries have real neighbours
        which = rng.integers(0, len(VOCAB), n)
        vectors = base[which] + rng.normal(0, 0.35 / np.sqrt(base.shape[1]) * 4, (n, base.shape[1])).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        t0 = time.perf_counter()
        index = Index(work / "index.sqlite")
        db = index.db
        index._ensure_vec(vectors.shape[1])
        per_source = 1000
        with db:
            for s in range(0, n, per_source):
                name = f"source{s // per_source:04d}.mp4"
                db.execute("INSERT INTO sources VALUES (?, ?, ?, ?, ?)", (name, name, f"/archive/{name}", "k", 1000.0))
                for i in range(s, min(n, s + per_source)):
                    start = float(i - s)
                    desc = VOCAB[which[i]]
                    wid = db.execute("INSERT INTO windows (name, idx, start, \"end\", description, transcript, labels) "
                                     "VALUES (?, ?, ?, ?, ?, '', '') RETURNING id",
                                     (name, i - s, start, start + 2.0, desc)).fetchone()[0]
                    db.execute("INSERT INTO text_fts (body, kind, ref, name) VALUES (?, 'description', ?, ?)",
                               (desc, wid, name))
                    db.execute("INSERT INTO window_vec (rowid, embedding) VALUES (?, ?)", (wid, vectors[i].tobytes()))
        print(f"search: index of {n:,} windows built in {time.perf_counter() - t0:.1f} s "
              f"({(work / 'index.sqlite').stat().st_size / 1e6:.0f} MB)")
        queries = ["someone talking about the weather", "a vehicle going by", "a dog", "people clapping",
                   "the news", "a ringing telephone", "kids laughing", "an empty hallway", "rainy window",
                   "a man enters the room"] * 3
        embed = lambda text: embedder.embed([text])[0]  # noqa: E731
        search(index, Query(queries[0]), embed)  # warm-up
        ours, peer, agree = [], [], 0
        for q in queries:
            t0 = time.perf_counter()
            hits = search(index, Query(q, k=10), embed)
            ours.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            v = embed(q)
            top = np.argpartition(-(vectors @ v), 10)[:10]
            peer.append(time.perf_counter() - t0)
            agree += bool(hits) and VOCAB[which[int(top[0])]] == hits[0].description
        index.close()

        def pct(xs, p):
            return 1000 * statistics.quantiles(xs, n=100)[p - 1]
        print(f"  streamfuse search (sqlite-vec + FTS5, words and meaning): p50 {pct(ours, 50):6.1f} ms  "
              f"p95 {pct(ours, 95):6.1f} ms")
        print(f"  peer: NumPy exact cosine over the vectors (meaning only): p50 {pct(peer, 50):6.1f} ms  "
              f"p95 {pct(peer, 95):6.1f} ms   (same top description: {agree}/{len(queries)})")
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--files", type=int, default=8)
    p.add_argument("--seconds", type=float, default=6.0)
    p.add_argument("--windows", type=int, default=100_000)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--only", choices=["batch", "search"], default=None)
    args = p.parse_args()
    if args.only in (None, "search"):
        bench_search(args)
    if args.only in (None, "batch"):
        bench_batch(args)


if __name__ == "__main__":
    main()
