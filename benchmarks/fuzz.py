"""Fuzz ``streamfuse analyze`` with hostile media, subtitle files and configuration values.

Each case mutates a seed input with a seeded generator (case ``i`` of seed ``S`` is always the same
case), runs the CLI on it as a subprocess under a time and an address-space limit
(:func:`streamfuse.testing.bounded.run_bounded`), and classifies the outcome:

* **handled**: exit 0 (damage, if any, reported as warnings), or exit 2 with exactly one
  ``streamfuse: error:`` line; no traceback either way, and no half-written folder left in OUT;
* **crashed**: anything else: exit 1 (an internal error), a traceback, a signal, several error
  lines, or a hidden partial result left behind;
* **hung**: still running at the time limit (killed);
* **over memory**: an allocation failed under the limit, or the peak resident memory passed
  ``--peak-mb``.

Seeds: generated clips (:mod:`streamfuse.testing`: Matroska with H.264 + AAC + subtitles, MP4,
MPEG-TS, WAV, FLAC/Ogg audio, a damaged TS) and real recordings from ``../shared/media`` (MPEG-PS,
Matroska, GIF, WAV, Ogg Vorbis). Mutations: byte flips at random offsets, truncation, header fields
set to extremes, chunk/box/element sizes lied about (RIFF, MP4, Matroska, MPEG PES), a span cut out
of the interleaved streams, a span repeated; subtitle files with extreme, inverted and malformed
timestamps, floods of cues, invalid UTF-8 and binary junk; configuration values of the wrong type,
out of range, non-finite, huge or YAML tags. Most media cases decode only (the encoders see decoded
arrays, never the file's bytes); one in 16 (one in 4 of the configuration cases) also runs the
cheap encoders (motion, loudness), with four times the address space (torch reserves it) and 1.5
times the peak; they take ~15 s each, mostly importing torch.

    .venv/bin/python benchmarks/fuzz.py --cases 1000 [--seed 0] [--jobs 2] [--timeout 60] [--keep DIR]

prints a table (cases, handled, crashed, hung, over memory; per kind of mutation) and, for every
case that was not handled, how to reproduce it. Goal: 0 crashed, 0 hung, 0 over memory.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from streamfuse.testing.bounded import Bounded, run_bounded  # noqa: E402

MEDIA = ROOT.parent / "shared" / "media"
#: real recordings used as seeds (small ones: each case decodes the whole file)
REAL_SEEDS = ("grid/bbaf2n.mpg", "asl/again.mkv", "asl/eat.mkv", "scenes/classroom.gif", "speech/cards-001.wav",
              "sounds/bell.oga")
DECODE_ONLY = ("--set", "encoders.enabled=false")
#: cases that run encoders get this many times the address space (torch reserves it)
ENCODER_FACTOR = 4
KINDS = ("byte flips", "truncation", "header extremes", "lying sizes", "streams cut", "span repeated",
         "subtitles", "config")
_ALLOCATION_FAILED = ("MemoryError", "Cannot allocate memory", "failed to map segment", "std::bad_alloc")


# ---------------------------------------------------------------- seeds


def generated_seeds(folder: Path) -> list[Path]:
    """Small clips made with streamfuse.testing (once per folder)."""
    from streamfuse.testing import media as gen
    folder.mkdir(parents=True, exist_ok=True)
    recipes = [
        ("sample.mkv", gen.make_sample_clip, {"duration": 2.0}),
        ("sync.mkv", gen.make_av_sync_clip, {"duration": 2.0}),
        ("video.mp4", gen.make_video_only_clip, {"duration": 1.5}),
        ("nonzero.ts", gen.make_nonzero_start_clip, {"duration": 1.5}),
        ("audio.wav", gen.make_audio_only_clip, {"duration": 1.5}),
        ("beep.flac", gen.make_beep_clip, {"duration": 1.5}),
        ("beep.ogg", gen.make_beep_clip, {"duration": 1.5}),
        ("vfr.mkv", gen.make_vfr_clip, {}),
        ("subtitled.mp4", gen.make_subtitled_clip, {"sidecar": None, "duration": 2.0}),
        ("damaged.ts", gen.make_corrupt_clip, {"duration": 2.0}),
    ]
    out = []
    for name, make, kw in recipes:
        path = folder / name
        if not path.exists():
            make(path, **kw)
        out.append(path)
    return out


def real_seeds() -> list[Path]:
    return [MEDIA / p for p in REAL_SEEDS if (MEDIA / p).is_file()]


# ---------------------------------------------------------------- mutations of bytes


def flip_bytes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    out = bytearray(data)
    n = rng.choice((1, 2, 4, 16, 64, 256))
    for _ in range(n):
        i = rng.randrange(len(out))
        out[i] = rng.randrange(256) if rng.random() < 0.5 else out[i] ^ (1 << rng.randrange(8))
    return bytes(out), f"{n} bytes flipped"


def truncate(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    at = rng.choice((rng.randrange(len(data)), rng.randrange(min(len(data), 4096)), int(len(data) * rng.random())))
    return data[:at], f"cut at byte {at} of {len(data)}"


_EXTREMES = (0, 1, 0x7F, 0x80, 0xFF, 0x7FFF, 0x8000, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)


def header_extremes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """Integers in the first 4 KiB (where headers live) set to extreme values."""
    out = bytearray(data)
    head = min(len(out), 4096)
    changes = []
    for _ in range(rng.choice((1, 2, 4, 8))):
        width = rng.choice((1, 2, 4, 8))
        if head <= width:
            break
        at = rng.randrange(head - width)
        value = rng.choice(_EXTREMES + (rng.getrandbits(8 * width),)) & ((1 << (8 * width)) - 1)
        out[at:at + width] = value.to_bytes(width, rng.choice(("little", "big")))
        changes.append(f"{width}@{at}={value:#x}")
    return bytes(out), "header fields " + ", ".join(changes)


def _find_all(data: bytes, tag: bytes, limit: int) -> list[int]:
    out, start = [], 0
    while len(out) < limit and (at := data.find(tag, start)) >= 0:
        out.append(at)
        start = at + 1
    return out


def _size_fields(data: bytes) -> list[tuple[int, int, str]]:
    """``(offset, width, byte order)`` of size fields of chunks, boxes, elements and packets."""
    fields = []
    for tag in (b"RIFF", b"fmt ", b"data", b"LIST", b"strh", b"strf", b"movi", b"idx1"):  # RIFF: size after tag, LE
        fields += [(at + 4, 4, "little") for at in _find_all(data, tag, 20)]
    for box in (b"moov", b"trak", b"mdia", b"minf", b"stbl", b"stsd", b"stsz", b"stco", b"co64", b"stts", b"stsc",
                b"ctts", b"mdat", b"udta", b"meta", b"ilst", b"hdlr", b"avcC", b"esds", b"elst"):  # MP4: size before type
        fields += [(at - 4, 4, "big") for at in _find_all(data, box, 20) if at >= 4]
    # Matroska: Cluster, Tracks, Info, SimpleBlock, BlockGroup; the size's first byte follows the id
    # (one-byte ids match often inside compressed data, so only some are taken)
    for ident, limit in ((b"\x1f\x43\xb6\x75", 20), (b"\x16\x54\xae\x6b", 2), (b"\x15\x49\xa9\x66", 2),
                         (b"\xa3", 50), (b"\xa0", 20)):
        fields += [(at + len(ident), 1, "big") for at in _find_all(data, ident, limit)]
    for at in _find_all(data, b"\x00\x00\x01", 400):  # MPEG PES: a 2-byte length after the stream id
        if at + 6 <= len(data) and data[at + 3] >= 0xBD:
            fields.append((at + 4, 2, "big"))
    return fields


def lying_sizes(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    fields = _size_fields(data)
    if not fields:
        return flip_bytes(rng, data)
    out = bytearray(data)
    changes = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        at, width, order = rng.choice(fields)
        if at + width > len(out):
            continue
        if width == 1:  # an EBML size: 1 = unknown-length 8-byte size, or a random length class
            value = rng.choice((0x01, 0x80, 0xFF, 0x40, rng.randrange(256)))
        else:
            old = int.from_bytes(out[at:at + width], order)
            value = rng.choice((0, 1, (1 << (8 * width)) - 1, (1 << (8 * width - 1)) - 1, old * 2, old // 2, old + 1,
                                max(0, old - 1))) & ((1 << (8 * width)) - 1)
        out[at:at + width] = value.to_bytes(width, order)
        changes.append(f"{width}@{at}={value:#x}")
    return bytes(out), "sizes " + ", ".join(changes)


def cut_streams(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    """A span (or every other chunk of a stretch) cut out of the middle, where streams interleave."""
    n = len(data)
    a = rng.randrange(n // 8, max(n // 8 + 1, 7 * n // 8))
    if rng.random() < 0.5:
        length = rng.choice((1, 7, 188, 1024, 4096, n // 10 or 1))
        return data[:a] + data[a + length:], f"bytes [{a}, {a + length}) cut out"
    chunk = rng.choice((188, 512, 2048))
    stretch = data[a:a + chunk * 40]
    kept = b"".join(stretch[i:i + chunk] for i in range(0, len(stretch), 2 * chunk))
    return data[:a] + kept + data[a + len(stretch):], f"every other {chunk}-byte chunk of [{a}, {a + len(stretch)}) cut"


def repeat_span(rng: random.Random, data: bytes) -> tuple[bytes, str]:
    n = len(data)
    a = rng.randrange(n)
    length = rng.choice((16, 188, 4096, n // 4 or 1))
    times = rng.choice((2, 10))
    return data[:a] + data[a:a + length] * times + data[a + length:], f"bytes [{a}, {a + length}) repeated x{times}"


MEDIA_MUTATIONS = {"byte flips": flip_bytes, "truncation": truncate, "header extremes": header_extremes,
                   "lying sizes": lying_sizes, "streams cut": cut_streams, "span repeated": repeat_span}


# ---------------------------------------------------------------- subtitles and configuration


def _srt_time(ms: int) -> str:
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    return f"{sign}{ms // 3_600_000:02d}:{ms // 60_000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"


def hostile_subtitles(rng: random.Random) -> tuple[bytes, str, str]:
    """``(file bytes, suffix, description)`` of a hostile subtitle file."""
    kind = rng.choice(("extreme times", "flood", "junk", "bad utf-8", "huge cue", "markup", "ass", "vtt"))
    if kind == "junk":
        return rng.randbytes(rng.choice((10, 1000, 100_000))), ".srt", "random bytes"
    if kind == "bad utf-8":
        return b"1\n00:00:00,000 --> 00:00:01,000\n\xff\xfe\xc3\x28 hello\n", ".srt", "invalid UTF-8"
    if kind == "ass":
        lines = ["[Script Info]", "ScriptType: v4.00+", "[V4+ Styles]",
                 "Format: Name, Fontname, Fontsize", "Style: Default,Arial," + rng.choice(("20", "-1", "1e309")),
                 "[Events]", "Format: Layer, Start, End, Style, Text"]
        for _ in range(rng.choice((1, 100, 5000))):
            t = rng.choice(("0:00:00.00", "9:59:59.99", "-0:00:01.00", "0:00:00.5", "99:99:99.99"))
            lines.append(f"Dialogue: 0,{t},{rng.choice(('0:00:01.00', t, '0:00:00.00'))},Default,"
                         + rng.choice(("{\\b1}x", "{" * 50 + "x", "\\N" * 200, "ok")))
        return "\n".join(lines).encode(), ".ass", f"ASS, {len(lines) - 7} events"
    cues = []
    n = {"flood": rng.choice((5000, 20_000)), "huge cue": 1}.get(kind, rng.choice((1, 10, 200)))
    for i in range(n):
        if kind == "extreme times":
            start = rng.choice((0, -1000, 359_999_999, 2**31, rng.randrange(5000)))
            end = rng.choice((start + 500, start - 500, 0, 359_999_999))
        else:
            start = rng.randrange(3000)
            end = start + rng.choice((1, 200, 2000))
        text = {"huge cue": "word " * rng.choice((10_000, 200_000)),
                "markup": rng.choice(("<i>" * 500, "<font color=" + "x" * 1000 + ">a</font>", "{\\an8}" * 300))}.get(
            kind, f"cue {i}")
        cues.append(f"{i + 1}\n{_srt_time(start)} --> {_srt_time(end)}\n{text}\n")
    body = "\n".join(cues)
    if kind == "vtt":
        return ("WEBVTT\n\n" + body.replace(",", ".")).encode(), ".vtt", f"WebVTT, {n} cues"
    return body.encode(), ".srt", f"{kind}, {n} cues"


def config_keys() -> list[tuple[str, object]]:
    """Every configuration key (dotted) with its default, as config files spell them."""
    from streamfuse.config.loader import as_dict, load_config

    def walk(node, prefix):
        for key, value in node.items():
            if isinstance(value, dict) and value:
                yield from walk(value, f"{prefix}{key}.")
            else:
                yield f"{prefix}{key}", value

    return list(walk(as_dict(load_config(environ={})), ""))


def cheap_encoders(keys) -> tuple[str, ...]:
    """``--set`` arguments that leave only the cheap encoders on (motion, loudness)."""
    off = [k for k, _ in keys if k.startswith("encoders.") and k.endswith(".enabled") and k.count(".") == 2
           and k.split(".")[1] not in ("motion", "loudness")]
    return tuple(a for k in off for a in ("--set", f"{k}=false"))


_CONFIG_VALUES = ("0", "-1", "1e9", "-1e-9", "1e309", ".nan", ".inf", "-.inf", "true", "yes", "null", "~", "''",
                  "[]", "[1, 2]", "{a: 1}", "{}", "x" * 5000, "!!python/object:os.system echo", "!!binary AAAA",
                  "&a [*a]", "0x7fffffff", "99999999999999999999999", "3.5", "abc", "'1'", "[[[[[]]]]]",
                  "\u202e\u0007", "2001-01-01", "- a\n- b")  # (argv cannot hold a NUL byte)


def hostile_config(rng: random.Random, keys: list[tuple[str, object]]) -> tuple[list[str], str]:
    sets = []
    for _ in range(rng.choice((1, 1, 2, 3))):
        key, _ = rng.choice(keys)
        value = rng.choice(_CONFIG_VALUES)
        if rng.random() < 0.1:
            key = rng.choice((key + ".x", "." + key, key.upper(), "encoders..motion", "x" * 300))
        sets.append(f"{key}={value}")
    return [a for s in sets for a in ("--set", s)], "; ".join(s[:80] for s in sets)


# ---------------------------------------------------------------- cases


@dataclass
class Case:
    index: int
    kind: str
    seed_file: str
    description: str
    args: list[str]  # the CLI arguments after 'streamfuse analyze'
    folder: Path  # holds the mutated input and OUT
    encoders: bool = False  # runs the cheap encoders (they import torch: more address space)


@dataclass
class Outcome:
    case: Case
    verdict: str  # handled, crashed, hung, over memory
    returncode: int
    seconds: float
    peak_mb: float
    detail: str = ""
    warnings: int = 0


def make_case(index: int, seed: int, seeds: list[Path], work: Path, keys, encoder_share: float = 1 / 16) -> Case:
    rng = random.Random(f"{seed}:{index}")
    kind = rng.choices(KINDS, weights=(3, 2, 2, 3, 2, 1, 2, 1))[0]
    folder = work / f"case-{index:05d}"
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    source = rng.choice(seeds)
    args: list[str] = []
    if kind in MEDIA_MUTATIONS:
        data, description = MEDIA_MUTATIONS[kind](rng, source.read_bytes())
        target = folder / source.name
        target.write_bytes(data)
        args = [str(target)]
    elif kind == "subtitles":
        data, suffix, description = hostile_subtitles(rng)
        subs = folder / ("subs" + suffix)
        subs.write_bytes(data)
        args = [str(source), "--subtitles", str(subs)]
    else:
        sets, description = hostile_config(rng, keys)
        args = [str(source), *sets]
    args += ["-o", str(folder / "out"), "--no-progress"]
    encoders = rng.random() < (4 * encoder_share if kind == "config" else encoder_share)
    args += list(cheap_encoders(keys) if encoders else DECODE_ONLY)
    if rng.random() < 0.5:
        args += ["--set", "runtime.source_worker=thread"]  # both places decoding can run
    return Case(index, kind, source.name, description, args, folder, encoders)


def classify(case: Case, run: Bounded, peak_limit_mb: float) -> Outcome:
    errors = run.error_lines
    hidden = []
    out = case.folder / "out"
    if out.exists():
        from streamfuse.archive.journal import ARCHIVE_STATE  # the batch journal and index are not results
        hidden = [p.name for p in out.iterdir()
                  if p.name.startswith(".") and p.name != ".sample" and p.name not in ARCHIVE_STATE]
    outcome = Outcome(case, "handled", run.returncode, run.seconds, run.peak_mb,
                      warnings=sum(1 for ln in run.stderr.splitlines() if "warning:" in ln))
    if run.timed_out:
        outcome.verdict, outcome.detail = "hung", f"killed after {run.seconds:.0f} s"
    elif any(s in run.stderr for s in _ALLOCATION_FAILED) or run.peak_mb > peak_limit_mb:
        outcome.verdict = "over memory"
        outcome.detail = f"peak {run.peak_mb:.0f} MB; " + _last_line(run.stderr)
    elif "Traceback" in run.stderr or run.returncode not in (0, 2):
        outcome.verdict, outcome.detail = "crashed", _last_line(run.stderr) or f"exit {run.returncode}"
    elif run.returncode == 2 and len(errors) != 1:
        outcome.verdict, outcome.detail = "crashed", f"exit 2 with {len(errors)} error lines: {_last_line(run.stderr)}"
    elif run.returncode == 0 and errors:
        outcome.verdict, outcome.detail = "crashed", f"exit 0 with an error line: {errors[0]}"
    elif hidden:
        outcome.verdict, outcome.detail = "crashed", f"partial result left in OUT: {hidden}"
    elif errors:
        outcome.detail = errors[0]
    return outcome


def _last_line(text: str) -> str:
    lines = [ln for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def run_case(case: Case, timeout: float, memory_mb: int, peak_limit_mb: float, keep: bool) -> Outcome:
    env = dict(os.environ, PYTHONPATH=str(ROOT), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               RAY_USAGE_STATS_ENABLED="0")
    if case.encoders:  # torch maps gigabytes of address space it never touches
        memory_mb, peak_limit_mb = memory_mb * ENCODER_FACTOR, peak_limit_mb * 1.5
    run = run_bounded([sys.executable, "-m", "streamfuse", "analyze", *case.args], timeout=timeout,
                      memory_mb=memory_mb, cwd=case.folder, env=env)
    outcome = classify(case, run, peak_limit_mb)
    if not keep and outcome.verdict == "handled":
        shutil.rmtree(case.folder, ignore_errors=True)
    return outcome


def campaign(cases: int, seed: int = 0, jobs: int = 2, timeout: float = 60.0, memory_mb: int = 2048,
             peak_limit_mb: float = 1024.0, work: Path | None = None, keep: bool = False,
             first: int = 0, encoder_share: float = 1 / 16, progress=None) -> list[Outcome]:
    """Run cases ``first .. first + cases - 1`` of campaign ``seed``; the inputs of cases that were
    not handled stay in ``work`` (a temporary folder unless given) to reproduce them."""
    work = Path(work) if work is not None else Path(tempfile.mkdtemp(prefix="streamfuse-fuzz-"))
    seeds = generated_seeds(work / "seeds") + real_seeds()
    keys = config_keys()
    todo = [make_case(first + i, seed, seeds, work, keys, encoder_share) for i in range(cases)]
    outcomes: list[Outcome] = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for outcome in pool.map(lambda c: run_case(c, timeout, memory_mb, peak_limit_mb, keep), todo):
            outcomes.append(outcome)
            if progress is not None:
                progress(outcome, len(outcomes), cases)
    return outcomes


VERDICTS = ("handled", "crashed", "hung", "over memory")


def table(outcomes: list[Outcome]) -> str:
    rows = []
    by_kind: dict[str, Counter] = {k: Counter() for k in KINDS}
    for o in outcomes:
        by_kind[o.case.kind][o.verdict] += 1
    width = max(len(k) for k in KINDS + ("total",))
    head = f"{'kind':<{width}}  {'cases':>5}  " + "  ".join(f"{v:>11}" for v in VERDICTS)
    rows.append(head)
    rows.append("-" * len(head))
    total: Counter = Counter()
    for kind in KINDS:
        c = by_kind[kind]
        total.update(c)
        rows.append(f"{kind:<{width}}  {sum(c.values()):>5}  " + "  ".join(f"{c[v]:>11}" for v in VERDICTS))
    rows.append("-" * len(head))
    rows.append(f"{'total':<{width}}  {sum(total.values()):>5}  " + "  ".join(f"{total[v]:>11}" for v in VERDICTS))
    exit0 = sum(1 for o in outcomes if o.verdict == "handled" and o.returncode == 0)
    warned = sum(1 for o in outcomes if o.verdict == "handled" and o.returncode == 0 and o.warnings)
    rows.append(f"handled: {exit0} exit 0 ({warned} of them with damage or warnings reported), "
                f"{total['handled'] - exit0} exit 2 with one line")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", type=int, default=1000)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--first", type=int, default=0, help="index of the first case (to rerun one: --first I --cases 1)")
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--timeout", type=float, default=60.0, help="seconds a case may run")
    p.add_argument("--memory-mb", type=int, default=2048, help="address space a case may use")
    p.add_argument("--peak-mb", type=float, default=1024.0, help="peak resident memory counted as over memory")
    p.add_argument("--keep", type=Path, default=None, help="keep every case's input and output in this folder")
    p.add_argument("--encoder-share", type=float, default=1 / 16,
                   help="share of media cases that also run the cheap encoders")
    args = p.parse_args(argv)
    start = time.monotonic()

    def progress(outcome: Outcome, done: int, total: int) -> None:
        if outcome.verdict != "handled":
            c = outcome.case
            print(f"  case {c.index} ({c.kind}, {c.seed_file}: {c.description[:80]}): {outcome.verdict}: "
                  f"{outcome.detail}", flush=True)
        if done % 50 == 0 or done == total:
            print(f"  {done}/{total} cases, {time.monotonic() - start:.0f} s", file=sys.stderr, flush=True)

    work = args.keep or Path(tempfile.mkdtemp(prefix="streamfuse-fuzz-"))
    outcomes = campaign(args.cases, args.seed, args.jobs, args.timeout, args.memory_mb, args.peak_mb,
                        work=work, keep=args.keep is not None, first=args.first,
                        encoder_share=args.encoder_share, progress=progress)
    wall = time.monotonic() - start
    slowest = max(outcomes, key=lambda o: o.seconds)
    heaviest = max(outcomes, key=lambda o: o.peak_mb)
    print(f"\nfuzz: {len(outcomes)} cases of seed {args.seed} in {wall:.0f} s with {args.jobs} jobs "
          f"(limits: {args.timeout:g} s, {args.memory_mb} MB address space, {args.peak_mb:g} MB peak)")
    print(table(outcomes))
    print(f"slowest case: {slowest.case.index} ({slowest.case.kind}) {slowest.seconds:.1f} s; "
          f"largest: {heaviest.case.index} ({heaviest.case.kind}) {heaviest.peak_mb:.0f} MB")
    failed = [o for o in outcomes if o.verdict != "handled"]
    for o in failed:
        print(f"reproduce case {o.case.index}: benchmarks/fuzz.py --seed {args.seed} --first {o.case.index} "
              f"--cases 1 --keep DIR   ({o.case.folder})")
    if args.keep is None and not failed:
        shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
