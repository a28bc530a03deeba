"""Live feeds: end-to-end latency, and how many concurrent 640x360 25 fps feeds one machine sustains.

Feeds are paced MPEG-TS streams (H.264 640x360 25 fps + MP2 audio, a flash and a beep every 4.8 s)
sent on loopback TCP by :class:`streamfuse.testing.live_feed.LiveFeed` from this process; each live
pipeline runs in a process of its own (spawned once, encoders loaded before timing). Reported:

1. latency on one feed: per window (emission minus arrival of the window's last frame) and per event
   (a flash leaving the sender to its event reaching the pipeline's sink), p50 and p95, against the
   goal p95 <= hop + 0.5 s; with the default 2 s windows and with 1 s windows (= the hop);
2. capacity: N = 1, 2, ... feeds at once until more than 1 % of the frames are dropped (or a feed
   reconnects, or N = --max-feeds): a table of frames, drops, latency and CPU per N, and ratios;
3. sounds on a live UDP feed: a 40 ms 1 kHz beep every 2 s, default windows: how many beeps came
   out as ``sound`` events (named by the tagger or level onsets) and how late, p50 / p95 (goal: every
   beep, p95 <= hop + 0.5 s).

Encoders: the defaults without speech recognition and text embeddings (no speech in these feeds).

    .venv/bin/python benchmarks/bench_live.py [--max-feeds 8] [--seconds 12]

Bounded: workers start in parallel (about a minute on 2 cores), each step lasts --seconds + a few.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import time
from fractions import Fraction

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SETS = ["encoders.asr.enabled=false", "encoders.text.enabled=false"]
SIZE, FPS = (640, 360), 25


# ---------------------------------------------------------------- the worker process


def _worker(conn, sets: list[str]) -> None:
    import resource
    import threading

    from streamfuse.config.loader import load_config
    from streamfuse.runtime.live import LivePipeline
    from streamfuse.runtime.stages import EncodeStage
    from streamfuse.sources.live import live_source

    EncodeStage(load_config(sets=sets).encoders).close()  # import and load every model before timing
    conn.send("ready")

    class Sink:
        name = "bench"

        def __init__(self) -> None:
            self.flashes: list[float] = []
            self.sounds: list[tuple[float, float, str]] = []  # (received, media start, label)
            self.connected: float | None = None

        def emit(self, event) -> None:
            if event["type"] == "streamfuse.source.connected" and self.connected is None:
                self.connected = time.monotonic()
            if event["type"] == "streamfuse.flash":
                self.flashes.append(time.monotonic())
            elif (event["type"] == "streamfuse.sound" and event["data"]["phase"] in ("start", "instant")
                  and "same_sound_as" not in event["data"].get("evidence", {})):  # a name for a sound reported
                self.sounds.append((time.monotonic(), event["data"]["start"], event["data"].get("label", "")))

        def flush(self, timeout=None) -> None:
            pass

        def close(self) -> None:
            pass

        def stats(self) -> dict:
            return {}

    while True:
        job = conn.recv()
        if job is None:
            return
        url, seconds, extra = job
        sink = Sink()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        pipeline = LivePipeline(live_source(url), load_config(sets=sets + extra), [sink])
        pipeline.open()
        result: dict = {}
        thread = threading.Thread(target=lambda: result.update(stats=pipeline.run()), daemon=True)
        thread.start()
        time.sleep(seconds)
        pipeline.stop()
        thread.join(30)
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        stats = result.get("stats") or pipeline.stats
        latencies = list(stats.latencies)[2:]  # the first windows include start-up
        conn.send({
            "frames_in": stats.frames_in, "dropped": dict(stats.dropped), "windows": stats.windows,
            "reconnects": stats.reconnects, "decode_errors": pipeline.reader.decode_errors,
            "frames_decoded": pipeline.reader.frames_decoded, "latencies": latencies,
            "flash_events": sink.flashes, "sound_events": sink.sounds, "connected": sink.connected,
            "cpu": (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime),
        })


# ---------------------------------------------------------------- the driver


def _quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    values = sorted(values)
    return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


def _event_latencies(received: list[float], sent: list[float]) -> list[float]:
    out = []
    for wall in received:
        before = [s for s in sent if s <= wall]
        if before:
            out.append(wall - before[-1])
    return out


def _fmt(x: float | None, unit: str = "s") -> str:
    return "-" if x is None else f"{x:.2f} {unit}".strip()


def run_step(workers, feeds, n: int, seconds: float, extra: list[str]) -> dict:
    for feed in feeds[:n]:
        feed.start()
    time.sleep(0.3)
    t0 = time.monotonic()
    main_cpu0 = time.process_time()
    for (conn, _), feed in zip(workers[:n], feeds[:n]):
        conn.send((feed.url, seconds, extra))
    results = [conn.recv() for conn, _ in workers[:n]]
    wall = time.monotonic() - t0
    main_cpu = time.process_time() - main_cpu0
    event_lat, beep_lat, beep_labels, beeps_sent = [], [], set(), 0
    for feed, r in zip(feeds[:n], results):
        event_lat += _event_latencies(r["flash_events"], feed.flash_walls)
        # a beep goes with each flash: a sound event belongs to the last beep sent before it (within 3 s)
        # the beeps sent while the pipeline was connected (not those before it joined the feed)
        joined = r["connected"] if r["connected"] is not None else t0
        sent = [w for w in feed.flash_walls if joined + 0.2 <= w < t0 + seconds - 3.0]
        beeps_sent += len(sent)
        first: dict[float, tuple[float, str]] = {}
        for received, _, label in sorted(r["sound_events"]):
            before = [w for w in sent if w <= received]
            if before and received - before[-1] <= 3.0 and before[-1] not in first:
                first[before[-1]] = (received - before[-1], label)
        beep_lat += [lat for lat, _ in first.values()]
        beep_labels |= {label for _, label in first.values()}
        feed.stop()
        feed.flash_walls.clear()
    frames = sum(r["frames_in"] for r in results)
    dropped = sum(sum(r["dropped"].values()) for r in results)
    window_lat = [x for r in results for x in r["latencies"]]
    return {
        "n": n, "frames": frames, "dropped": dropped, "drop_pct": 100.0 * dropped / frames if frames else 100.0,
        "reconnects": sum(r["reconnects"] for r in results),
        "decode_errors": sum(r["decode_errors"] for r in results),
        "decoded_fps": sum(r["frames_decoded"] for r in results) / n / seconds,
        "win_p50": _quantile(window_lat, 0.5), "win_p95": _quantile(window_lat, 0.95),
        "ev_p50": _quantile(event_lat, 0.5), "ev_p95": _quantile(event_lat, 0.95), "events": len(event_lat),
        "beeps_sent": beeps_sent, "beeps_found": len(beep_lat), "beep_labels": sorted(beep_labels),
        "beep_p50": _quantile(beep_lat, 0.5), "beep_p95": _quantile(beep_lat, 0.95),
        "cpu_per_feed": sum(r["cpu"] for r in results) / n / wall, "sender_cpu": main_cpu / wall,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-feeds", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=12.0, help="measured seconds per step")
    args = parser.parse_args()

    from streamfuse.testing.live_feed import LiveFeed

    t_start = time.monotonic()
    ctx = mp.get_context("spawn")
    workers = []
    for _ in range(args.max_feeds):
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(child, SETS), daemon=True)
        proc.start()
        workers.append((parent, proc))
    feeds = [LiveFeed("tcp", size=SIZE, fps=FPS, codec="libx264", gop=FPS) for _ in range(args.max_feeds)]
    try:
        for conn, _ in workers:
            if not conn.poll(240) or conn.recv() != "ready":
                raise SystemExit("a worker did not start")
        print(f"{args.max_feeds} workers ready in {time.monotonic() - t_start:.0f} s; "
              f"{os.cpu_count()} CPUs; feeds {SIZE[0]}x{SIZE[1]} {FPS} fps H.264 + MP2 over loopback TCP")

        print("\n1. latency, one feed (goal: p95 <= hop + 0.5 s = 1.5 s)")
        print(f"{'windows':<22}{'window p50':>11}{'window p95':>11}{'event p50':>11}{'event p95':>11}{'events':>8}")
        for label, extra in (("length 2 s, hop 1 s", []), ("length 1 s, hop 1 s", ["window.length=1"])):
            r = run_step(workers, feeds, 1, max(args.seconds, 15.0), extra)
            print(f"{label:<22}{_fmt(r['win_p50']):>11}{_fmt(r['win_p95']):>11}{_fmt(r['ev_p50']):>11}"
                  f"{_fmt(r['ev_p95']):>11}{r['events']:>8}")

        print("\n2. capacity: concurrent feeds, default windows (sustained: < 1 % frames dropped, no reconnects)")
        head = (f"{'N':>3}{'frames':>8}{'dropped':>9}{'drop %':>8}{'reconn':>8}{'dec err':>8}{'dec fps':>9}"
                f"{'win p50':>9}{'win p95':>9}{'ev p95':>9}{'cpu/feed':>10}{'sender':>8}")
        print(head)
        rows = []
        for n in range(1, args.max_feeds + 1):
            r = run_step(workers, feeds, n, args.seconds, [])
            rows.append(r)
            print(f"{n:>3}{r['frames']:>8}{r['dropped']:>9}{r['drop_pct']:>8.2f}{r['reconnects']:>8}"
                  f"{r['decode_errors']:>8}{r['decoded_fps']:>9.1f}{_fmt(r['win_p50']):>9}{_fmt(r['win_p95']):>9}"
                  f"{_fmt(r['ev_p95']):>9}{100 * r['cpu_per_feed']:>9.0f}%{100 * r['sender_cpu']:>7.0f}%",
                  flush=True)
            if r["drop_pct"] > 1.0 or r["reconnects"]:
                break
        ok = [r for r in rows if r["drop_pct"] <= 1.0 and not r["reconnects"]]
        sustained = max((r["n"] for r in ok), default=0)
        print(f"\nsustained: {sustained} concurrent feeds (goal >= 4)")
        if len(rows) > 1:
            base = rows[0]
            for r in rows[1:]:
                ratio = (r["win_p95"] / base["win_p95"]) if r["win_p95"] and base["win_p95"] else float("nan")
                print(f"  N={r['n']}: window p95 latency x{ratio:.2f} of N=1; "
                      f"CPU per feed x{r['cpu_per_feed'] / base['cpu_per_feed']:.2f} of N=1")
        print("\n3. sounds on a live UDP feed: a 40 ms beep every 2 s, default windows (goal: every beep, "
              "p95 <= 1.5 s)")
        beeps = LiveFeed("udp", size=SIZE, fps=FPS, codec="libx264", gop=FPS, loop=Fraction(6),
                         flashes=(0.5, 2.5, 4.5), beep_ms=40)
        r = run_step(workers, [beeps], 1, max(args.seconds, 40.0), [])
        print(f"  beeps sent {r['beeps_sent']}, reported as sounds {r['beeps_found']} "
              f"(labels: {', '.join(r['beep_labels']) or '-'}), latency p50 {_fmt(r['beep_p50'])}, "
              f"p95 {_fmt(r['beep_p95'])}")
        print(f"total {time.monotonic() - t_start:.0f} s")
        return 0
    finally:
        for conn, proc in workers:
            try:
                conn.send(None)
            except (BrokenPipeError, OSError):
                pass
        for conn, proc in workers:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        for feed in feeds:
            feed.stop()


if __name__ == "__main__":
    sys.exit(main())
