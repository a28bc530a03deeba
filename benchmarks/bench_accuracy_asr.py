"""Speech recognition on real recordings: word error rate of streamfuse vs faster-whisper on its own.

Files and their truth: ../shared/media/speech/*.wav (speech/transcripts.tsv), grid/bbaf2n.mpg
(grid/bbaf2n.vtt: its sidecar, so streamfuse runs with decode.sidecar_subtitles=false and must
recognise the speech itself) and jfk/jfk.flac (jfk/jfk.txt).

Three systems, same files, same run, same normaliser (streamfuse.testing.wer):
- streamfuse at its defaults (plus any ``--set``): the text of its ``transcript`` events that
  did not come from subtitles, in time order;
- streamfuse with ``encoders.asr.beam_size=5 encoders.asr.context=30`` on top;
- faster-whisper alone: the same bundled model (streamfuse's ``bundled:tiny.en``, the same
  compute type as streamfuse's default, int8), ``WhisperModel.transcribe`` on the whole file
  with beam 5 and its other defaults (the full 30 s window).
WER per set and overall is pooled: edits summed over reference words summed. ``--quick``: the
speech set and grid only.

    python benchmarks/bench_accuracy_asr.py [--quick] [--set KEY=VALUE]... [--json PATH]
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import _bench
from streamfuse.testing.scoring import of_kind
from streamfuse.testing.wer import edit_distance, normalize_words

FULL_CONTEXT = ["encoders.asr.beam_size=5", "encoders.asr.context=30"]
NO_SIDECAR = ["decode.sidecar_subtitles=false"]


def references(quick: bool) -> dict[str, tuple[str, Path, str]]:
    """file name -> (set, path, what is said)."""
    media = _bench.MEDIA
    refs = {}
    for line in (media / "speech" / "transcripts.tsv").read_text().splitlines()[1:]:
        name, text = line.split("\t")
        refs[name] = ("speech", media / "speech" / name, text)
    vtt = (media / "grid" / "bbaf2n.vtt").read_text().splitlines()
    refs["bbaf2n.mpg"] = ("grid", media / "grid" / "bbaf2n.mpg", " ".join(x for x in vtt[1:] if x and "-->" not in x))
    if not quick:
        refs["jfk.flac"] = ("jfk", media / "jfk" / "jfk.flac", (media / "jfk" / "jfk.txt").read_text())
    return refs


def streamfuse_text(run) -> str | None:
    if run is None or not run.ok:
        return None
    events = [e for e in of_kind(run.events, "transcript")
              if (e["data"].get("evidence") or {}).get("origin") != "subtitle"]
    return " ".join(e["data"].get("text", "") for e in sorted(events, key=lambda e: e["data"]["start"]))


def faster_whisper_texts(paths: list[Path]) -> tuple[dict[str, str], float]:
    from faster_whisper import WhisperModel

    from streamfuse.encode.text.models import locate_asr_model  # where streamfuse finds its bundled model

    location = locate_asr_model("bundled:tiny.en")
    if not location.available:
        raise SystemExit(f"the bundled Whisper model is missing: {location.how}")
    model = WhisperModel(location.path, device="cpu", compute_type="int8", cpu_threads=2)
    texts, t0 = {}, time.perf_counter()
    for p in paths:
        segments, _ = model.transcribe(str(p), beam_size=5)
        texts[p.name] = " ".join(s.text.strip() for s in segments)
    return texts, time.perf_counter() - t0


def main() -> int:
    args = _bench.parser(__doc__).parse_args()
    _bench.need_media()
    refs = references(args.quick)
    paths = [p for _, p, _ in refs.values()]
    pipeline = _bench.Pipeline()
    systems = {
        "streamfuse": pipeline.run(paths, NO_SIDECAR + args.sets, "asr-default"),
        "streamfuse beam5+ctx30": pipeline.run(paths, NO_SIDECAR + args.sets + FULL_CONTEXT, "asr-beam5-ctx30"),
    }
    hyps = {who: {n: streamfuse_text(runs.get(n)) for n in refs} for who, runs in systems.items()}
    _bench.progress(f"faster-whisper alone on {len(paths)} file(s)")
    hyps["faster-whisper alone"], _ = faster_whisper_texts(paths)

    per_file, pooled = {}, {}
    for name, (group, _, ref) in refs.items():
        ref_words = normalize_words(ref)
        per_file[name] = {"set": group, "reference": ref, "words": len(ref_words)}
        for who, texts in hyps.items():
            hyp = texts.get(name)
            edits = edit_distance(ref_words, normalize_words(hyp)) if hyp is not None else len(ref_words)
            per_file[name][who] = {"text": hyp, "edits": edits, "wer": edits / len(ref_words)}
            for g in (group, "all"):
                e, w = pooled.setdefault(who, {}).get(g, (0, 0))
                pooled[who][g] = (e + edits, w + len(ref_words))
    who_all = list(hyps)
    _bench.table(f"Word error rate per file ({'quick' if args.quick else 'full'})"
                 f"{' with ' + ' '.join(args.sets) if args.sets else ''}",
                 ["file", "set", "words", *who_all],
                 [[n, r["set"], r["words"], *[r[w]["wer"] for w in who_all]] for n, r in per_file.items()])
    groups = [g for g in ("speech", "grid", "jfk", "all") if g in pooled[who_all[0]]]
    summary = {who: {g: {"edits": e, "words": w, "wer": e / w} for g, (e, w) in pooled[who].items()} for who in who_all}
    _bench.table("Word error rate per set (pooled: edits / reference words)", ["set", "words", *who_all],
                 [[g, pooled[who_all[0]][g][1], *[summary[w][g]["wer"] for w in who_all]] for g in groups])
    print("  transcripts that differ from the reference (normalised):")
    for n, r in per_file.items():
        for w in who_all:
            if r[w]["edits"]:
                print(f"    {n} [{w}]: {' '.join(normalize_words(r[w]['text'] or '')) or '(nothing)'!r}"
                      f"  (reference {' '.join(normalize_words(r['reference']))!r})")
    _bench.save_json(args.json, "asr", args, {"files": per_file, "summary": summary})
    return 0


if __name__ == "__main__":
    sys.exit(main())
