"""Sound labels of real sounds: streamfuse's top labels against what the sounds are.

Sounds (from ../shared/media; the made ones are written once under benchmarks/out/sounds):
- sounds/bell.oga, one short bell (0.14 s); bell-in-silence.wav: it at 1.0 s in 3 s of digital
  silence; three-bells.wav: it at 0.5, 1.7 and 2.9 s in 4 s of silence;
- speech: speech/*.wav (whole file), grid/bbaf2n.mpg (speech 0.95-2.12 s, the corpus alignment),
  jfk/jfk.flac (whole file);
- street-silence.wav: the audio of intel/car-detection.mp4, 30 s of pure digital silence.
A hit: one of the accepted AudioSet classes (below) is among the top-3 labels (by score) of the
``sound`` events overlapping the sound (+-0.25 s) and of the window summaries overlapping it.
For the silence a hit is no labelled sound at all, or "Silence" on top. The loudness detector's
own ``sound`` labels ("onset", "sustained") say how a sound behaves, not what it is, and are not
counted as classes. Window summaries are read from any ``audio`` encoder summary that holds a
``labels``/``top``/``top_labels``/``tags``/``classes`` list of ``{"label", "score"}`` or
``[label, score]``; an event's score is its ``evidence.score``, else its ``confidence``.
The truth is the peer: there is no other tagger to run beside it. ``--quick``: bell, three
bells, two speech files, the silence.

    python benchmarks/bench_accuracy_sounds.py [--quick] [--set KEY=VALUE]... [--json PATH]
"""

from __future__ import annotations

import sys
from pathlib import Path

import av
import numpy as np

import _bench
from streamfuse.testing.media_av import AudioTrack, write_clip
from streamfuse.testing.scoring import label_of, of_kind

BELL = {"Bell", "Church bell", "Jingle bell", "Bicycle bell", "Tuning fork", "Chime", "Wind chime",
        "Change ringing (campanology)", "Doorbell", "Ding-dong", "Ding", "Cowbell", "Tubular bells",
        "Glockenspiel", "Singing bowl"}
SPEECH = {"Speech", "Male speech, man speaking", "Female speech, woman speaking", "Child speech, kid speaking",
          "Conversation", "Narration, monologue"}
SILENCE = {"Silence"}
#: labels streamfuse's loudness detector gives its sound events: how a sound behaves, not what it is
NOT_CLASSES = {"onset", "sustained"}
SUMMARY_KEYS = ("labels", "top", "top_labels", "tags", "classes")
MARGIN = 0.25
BELL_LENGTH = 0.14


def decode_mono(path: Path, rate: int = 44100) -> np.ndarray:
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=rate)
        return np.concatenate([np.frombuffer(o.planes[0], np.float32, count=o.samples)
                               for f in c.decode(audio=0) for o in resampler.resample(f)])


def made_sounds() -> dict[str, Path]:
    """The sounds made from the media: bells placed in silence, the street clip's audio alone."""
    folder = _bench.OUT / "sounds"
    folder.mkdir(parents=True, exist_ok=True)
    bell = decode_mono(_bench.MEDIA / "sounds" / "bell.oga")
    made = {}
    for name, times, length in (("bell-in-silence.wav", [1.0], 3.0), ("three-bells.wav", [0.5, 1.7, 2.9], 4.0)):
        path = folder / name
        if not path.exists():
            signal = np.zeros(int(length * 44100), np.float32)
            for t in times:
                a = int(t * 44100)
                signal[a:a + len(bell)] += bell[: len(signal) - a]
            write_clip(path, "wav", audio=AudioTrack(signal, 44100, codec="pcm_s16le"))
        made[name] = path
    path = folder / "street-silence.wav"
    if not path.exists():
        write_clip(path, "wav", audio=AudioTrack(decode_mono(_bench.MEDIA / "intel" / "car-detection.mp4", 48000),
                                                 48000, codec="pcm_s16le"))
    made["street-silence.wav"] = path
    return made


def truths(quick: bool) -> dict[str, tuple[Path, list[tuple[float, float]], set[str], str]]:
    """file name -> (path, spans of the sound, accepted classes, what it is)."""
    m, made = _bench.MEDIA, made_sounds()
    whole = None  # the whole file
    items = {
        "bell.oga": (m / "sounds" / "bell.oga", [(0.0, BELL_LENGTH)], BELL, "bell"),
        "three-bells.wav": (made["three-bells.wav"], [(t, t + BELL_LENGTH) for t in (0.5, 1.7, 2.9)], BELL, "bell x3"),
        "bell-in-silence.wav": (made["bell-in-silence.wav"], [(1.0, 1.0 + BELL_LENGTH)], BELL, "bell"),
        "bbaf2n.mpg": (m / "grid" / "bbaf2n.mpg", [(0.95, 2.12)], SPEECH, "speech"),
        "jfk.flac": (m / "jfk" / "jfk.flac", whole, SPEECH, "speech"),
        "street-silence.wav": (made["street-silence.wav"], whole, SILENCE, "silence"),
    }
    for p in sorted((m / "speech").glob("*.wav")):
        items[p.name] = (p, whole, SPEECH, "speech")
    if quick:
        keep = {"bell.oga", "three-bells.wav", "cards-001.wav", "goforward.wav", "street-silence.wav"}
        items = {k: v for k, v in items.items() if k in keep}
    return items


def summary_labels(record: dict) -> list[tuple[str, float]]:
    """(label, score) pairs a window record's audio summaries carry (see the module docstring)."""
    out = []
    for summary in (record.get("audio") or {}).values():
        if not isinstance(summary, dict):
            continue
        for key in SUMMARY_KEYS:
            for item in summary.get(key) or ():
                if isinstance(item, dict) and "label" in item:
                    out.append((str(item["label"]), float(item.get("score") or 0.0)))
                elif isinstance(item, (list, tuple)) and item and isinstance(item[0], str):
                    out.append((item[0], float(item[1]) if len(item) > 1 else 0.0))
                elif isinstance(item, str):
                    out.append((item, 0.0))
    return out


def top_labels(run, spans: list[tuple[float, float]], k: int = 3) -> tuple[list[str], int, int]:
    """The top-``k`` class labels over ``spans`` (best score each), the number of labelled sound
    events overlapping them and the number of all sound events there."""
    near = lambda a, b: any(a <= y + MARGIN and b >= x - MARGIN for x, y in spans)  # noqa: E731
    overlapping = [e for e in of_kind(run.events, "sound") if near(e["data"]["start"], e["data"]["end"])]
    best: dict[str, float] = {}
    labelled = 0
    for e in overlapping:
        label = label_of(e)
        if label and label not in NOT_CLASSES:
            labelled += 1
            score = (e["data"].get("evidence") or {}).get("score", e["data"].get("confidence"))
            best[label] = max(best.get(label, 0.0), float(score or 0.0))
    for w in run.windows:
        if near(w["start"], w["end"]):
            for label, score in summary_labels(w):
                best[label] = max(best.get(label, 0.0), score)
    ranked = sorted(best, key=lambda x: -best[x])[:k]
    return ranked, labelled, len({e["data"].get("event_id") for e in overlapping})


def main() -> int:
    args = _bench.parser(__doc__).parse_args()
    _bench.need_media()
    items = truths(args.quick)
    runs = _bench.Pipeline().run([p for p, *_ in items.values()], args.sets, "sounds")
    results = {}
    for name, (path, spans, accepted, what) in items.items():
        run = runs.get(name)
        if run is None or not run.ok:
            results[name] = {"what": what, "failed": True, "top3": [], "hit": None}
            continue
        duration = max([w["end"] for w in run.windows] + [0.0])
        top, labelled, all_sounds = top_labels(run, spans or [(0.0, duration)])
        results[name] = {"what": what, "top3": top, "accepted": accepted, "labelled_sound_events": labelled,
                         "sound_events": all_sounds}
    any_labels = any(r["top3"] for r in results.values())  # until streamfuse labels sounds, nothing is scored
    rows = []
    for name, r in results.items():
        accepted = r.pop("accepted", set())
        if r.get("failed"):
            rows.append([name, r["what"], "failed", "", "", ""])
            continue
        top = r["top3"]
        if not any_labels:
            r["hit"] = None
        elif r["what"] == "silence":
            r["hit"] = not top or top[0] in SILENCE
        else:
            r["hit"] = bool(set(top) & accepted)
        rows.append([name, r["what"], ", ".join(top) or "no labels",
                     "-" if r["hit"] is None else ("hit" if r["hit"] else "miss"), r["labelled_sound_events"],
                     r["sound_events"]])
    _bench.table(f"Sound labels ({'quick' if args.quick else 'full'}){' with ' + ' '.join(args.sets) if args.sets else ''}",
                 ["file", "is", "top-3 labels", "hit", "labelled sounds", "sound events"], rows)
    scored = [r for r in results.values() if r["hit"] is not None]
    hits = sum(r["hit"] for r in scored)
    if any_labels:
        print(f"  hits: {hits}/{len(scored)}")
    else:
        print("  no labels: streamfuse gives its sounds no class yet (only the loudness detector's onset/sustained)")
    speech_sounds = sum(r.get("sound_events", 0) for r in results.values() if r["what"] == "speech")
    print(f"  sound events during the speech files (speech reported as a sound): {speech_sounds}")
    _bench.save_json(args.json, "sounds", args, {"files": results, "hits": hits if any_labels else None,
                                                  "scored": len(scored) if any_labels else 0})
    return 0


if __name__ == "__main__":
    sys.exit(main())
