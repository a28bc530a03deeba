"""What the accuracy benchmarks (``bench_accuracy_*.py``, ``bench_speed_real.py``) share.

- :class:`Pipeline` runs streamfuse through its public Python API only (``streamfuse.load_config``,
  ``resolve_inputs``, ``analyze``, ``LocalRuntime``: what ``streamfuse analyze`` does) and reads
  the results files, so a benchmark holds while encoders, fusion and the registry change.
- :func:`parser` gives every script ``--quick``, ``--set key=value`` (passed to every streamfuse
  run, to compare a setting) and ``--json PATH`` (the numbers, to diff before and after a change).
- :func:`spliced` builds (once, cached under ``benchmarks/out/splices``) the spliced real footage:
  26 shots of the clips in ``../shared/media`` with 25 known cuts, 7 single flash frames and 3
  fades inside shots (``--quick``: the first 8 shots, 7 cuts).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:  # run as a script: the checkout's streamfuse, not an installed one
    sys.path.insert(0, str(ROOT))
MEDIA = ROOT.parent / "shared" / "media"
OUT = HERE / "out"

from streamfuse.testing.scoring import load_results  # noqa: E402


def progress(message: str) -> None:
    """A progress line on stderr (the tables go to stdout)."""
    print(f"  .. {message}", file=sys.stderr, flush=True)


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc.strip().splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=doc)
    ap.add_argument("--quick", action="store_true", help="fewer files: about a minute")
    ap.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                    help="a streamfuse configuration override for every streamfuse run (repeatable)")
    ap.add_argument("--json", type=Path, metavar="PATH", help="also write the numbers here as JSON")
    return ap


def need_media() -> None:
    if not MEDIA.is_dir():
        raise SystemExit(f"the real media folder {MEDIA} is missing (see the project README)")


# ---------------------------------------------------------------- streamfuse, through its public API


@dataclass
class Run:
    """One input's result: its events and window records as written to ``events.jsonl`` / ``windows.jsonl``."""

    name: str
    ok: bool
    error: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    windows: list[dict[str, Any]] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None


class Pipeline:
    """streamfuse in this process (models load once, at the first run), as ``streamfuse analyze``
    would run it: ``streamfuse.analyze(resolve_inputs(paths), load_config(sets=...), ...)``."""

    def __init__(self) -> None:
        import streamfuse

        self.sf = streamfuse
        self.runtime = streamfuse.LocalRuntime()

    def run(self, paths: list[Path], sets: list[str], label: str) -> dict[str, Run]:
        """Analyse ``paths`` with ``sets`` into ``benchmarks/out/accuracy/<label>``; by file name."""
        import shutil

        try:
            config = self.sf.load_config(sets=list(sets))
        except self.sf.StreamfuseError as exc:
            print(f"streamfuse configuration: {exc}", file=sys.stderr)
            raise SystemExit(2)
        out = OUT / "accuracy" / label
        shutil.rmtree(out, ignore_errors=True)
        progress(f"streamfuse ({label}{': ' + ' '.join(sets) if sets else ''}) on {len(paths)} file(s)")
        runs = {}
        for result in self.sf.analyze(self.sf.resolve_inputs([str(p) for p in paths]), config, self.runtime,
                                      out, progress=False):
            name = result.source.name
            if not result.ok:
                runs[name] = Run(name, False, result.error)
                progress(f"streamfuse failed on {name}: {result.error}")
                continue
            events, windows = load_results(result.folder)
            runs[name] = Run(name, True, None, events, windows, result.summary, result.folder)
        return runs


# ---------------------------------------------------------------- printing and JSON


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(title: str, headers: list[str], rows: list[list[Any]], digits: int = 3) -> None:
    """A compact fixed-width table on stdout."""
    cells = [[fmt(c, digits) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)]
    # text columns (the first, and any holding only words) are left-aligned, numbers right-aligned
    text = [i == 0 or all(isinstance(row[i], str) and not row[i][:1].isdigit() for row in rows if row[i] not in ("", "-"))
            for i in range(len(headers))]
    line = lambda values: "  " + "  ".join(v.ljust(w) if t else v.rjust(w)  # noqa: E731
                                           for v, w, t in zip(values, widths, text)).rstrip()
    print(f"\n{title}")
    print(line(headers))
    for r in cells:
        print(line(r))


def commit() -> dict[str, Any]:
    """The checkout's commit and whether it has uncommitted changes."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10).stdout.strip()
        except OSError:
            return ""
    return {"commit": git("rev-parse", "--short", "HEAD"), "dirty": bool(git("status", "--porcelain", "--", "streamfuse"))}


def save_json(path: Path | None, benchmark: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
    if path is None:
        return
    payload = {"benchmark": benchmark, **commit(), "quick": args.quick, "sets": args.sets,
               "loadavg": [round(x, 2) for x in os.getloadavg()], "cpus": os.cpu_count(), "results": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")
    print(f"\nnumbers written to {path}")


# ---------------------------------------------------------------- spliced real footage

#: (clip under ../shared/media, start s, length s): 26 shots, 66.3 s, 25 cuts; asl joins asl
#: (same room, other person) six times, the street camera appears four times (never back to back)
SHOTS = [
    ("asl/again.mkv", 0, 2.4), ("scenes/worker-zone-detection.gif", 0, 3.0), ("asl/book.mkv", 0.3, 3.0),
    ("asl/eat.mkv", 0, 1.5), ("intel/car-detection.mp4", 4.4, 3.0), ("scenes/classroom.gif", 0, 2.9),
    ("asl/hungry.mkv", 0, 1.6), ("grid/bbaf2n.mpg", 0, 2.9),
    # --quick stops here (20.3 s)
    ("asl/sister.mkv", 0, 2.8), ("scenes/store-aisle-detection.gif", 0, 3.5), ("asl/learn.mkv", 0, 2.0),
    ("asl/night.mkv", 0, 2.2), ("intel/car-detection.mp4", 14.4, 4.0), ("scenes/face-demographics-walking.gif", 0, 2.8),
    ("asl/student.mkv", 0, 1.7), ("asl/please.mkv", 0, 2.4), ("scenes/person-bicycle-car-detection.gif", 0, 3.3),
    ("asl/walk.mkv", 0, 2.9), ("intel/car-detection.mp4", 25.0, 3.0), ("scenes/people-detection.gif", 0, 1.9),
    ("asl/sorry.mkv", 0, 2.4), ("asl/no.mkv", 0, 2.1), ("asl/yes.mkv", 0, 2.1),
    ("intel/car-detection.mp4", 10.0, 3.0), ("asl/want.mkv", 0, 1.5), ("asl/school.mkv", 0, 2.4),
]  # fmt: skip
QUICK_SHOTS = 8
#: single white frames and washed-out frames (a camera flash), and fades to black and back
#: (start, length), all inside shots (times in the splice)
WHITE = [3.6, 18.6, 36.0, 60.5]
BRIGHT = [11.0, 24.4, 46.2]
FADES = [(6.4, 1.0), (32.0, 1.2), (42.6, 1.0)]

#: the two encodings: name -> (suffix, video codec, audio codec, size, fps)
SPLICES = {
    "h264-720p30": (".mp4", "libx264", "aac", (1280, 720), 30),
    "vp8-480p24": (".mkv", "libvpx", "libopus", (854, 480), 24),
}


def spliced(name: str, quick: bool):
    """The spliced clip ``name`` (see :data:`SPLICES`) and its Truth, built the first time."""
    from streamfuse.testing.splice import Shot, make_spliced_clip

    suffix, codec, audio_codec, size, fps = SPLICES[name]
    shots = SHOTS[:QUICK_SHOTS] if quick else SHOTS
    end = sum(length for _, _, length in shots)
    params = dict(fps=fps, size=size, codec=codec, audio_codec=audio_codec,
                  flashes=[t for t in WHITE if t < end], bright=[t for t in BRIGHT if t < end],
                  fades=[f for f in FADES if f[0] + f[1] < end])
    source = (ROOT / "streamfuse" / "testing" / "splice.py").read_bytes()
    key = hashlib.sha1(repr((shots, params)).encode() + source).hexdigest()[:10]
    path = OUT / "splices" / f"splice-{name}{'-quick' if quick else ''}-{key}{suffix}"
    saved = path.with_suffix(".truth.pickle")
    if path.exists() and saved.exists():
        return pickle.loads(saved.read_bytes())
    need_media()
    path.parent.mkdir(parents=True, exist_ok=True)
    for stale in path.parent.glob(f"splice-{name}{'-quick' if quick else ''}-??????????.*"):
        stale.unlink()  # built from other shots or by another version of the splicer
    progress(f"building the spliced clip {path.name} ({end:.1f} s, {len(shots) - 1} cuts; once, then cached)")
    truth = make_spliced_clip(path, [Shot(MEDIA / p, s, n) for p, s, n in shots], **params)
    saved.write_bytes(pickle.dumps(truth))
    return truth
