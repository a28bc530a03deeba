"""Learned fusion on the pipeline's own features: a class that needs both picture and sound.

Dubbed real clips (as ../shared/media/README.md describes), 2 s each, one window per clip, built
once under benchmarks/out/dubbed. The truth is stated before anything runs:

- ``speaker``: a person facing the camera (asl/*.mkv) while speech is heard (speech/*.wav, jfk.flac,
  grid/bbaf2n.mpg's sound, cropped to 2 s of speech);
- ``face-only``: the same people with no sound (digital silence);
- ``voice-only``: the same speech over a street seen from above with no person (intel/car-detection.mp4);
- ``empty``: the street with no sound.

Video alone tells ``speaker`` and ``face-only`` apart from the other two but not from each other;
audio alone the reverse: each modality alone is right on at most half the windows (chance 25 %), a
fused model can be right on all. Features come from the pipeline's encoders (faces, people, voice
activity, loudness; objects, whose person tracks see the signers the face cascade misses; ``streamfuse eval --compare`` computes and caches them), then each modality
alone, early, late and hybrid are trained and scored on held-out clips (split by clip), 3 seeds.

    nice python benchmarks/bench_fusion_dubbed.py          # a few minutes on 2 cores
"""

from __future__ import annotations

import json
import os
import sys
from fractions import Fraction
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
MEDIA = ROOT.parent / "shared" / "media"
OUT = HERE / "out" / "dubbed"
LENGTH = 2
FPS = 25
SIZE = (640, 360)
RATE = 48000
ENCODERS = ["encoders.motion.enabled=false", "encoders.sounds.enabled=false",
            "encoders.asr.enabled=false", "encoders.text.enabled=false"]


def speech_crops() -> list[tuple[Path, float]]:
    """(file, start) of 2 s of speech each."""
    crops = [(p, 0.0) for p in sorted((MEDIA / "speech").glob("*.wav"))]
    crops += [(MEDIA / "jfk" / "jfk.flac", t) for t in (0.0, 2.5, 5.0, 7.5)]
    crops += [(MEDIA / "grid" / "bbaf2n.mpg", 0.6)]
    return crops


def _duration(path: Path) -> float:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return float(s.duration * s.time_base) if s.duration else (c.duration or 0) / 1e6


def build() -> Path:
    from streamfuse.testing.media_av import AudioTrack, VideoTrack, write_clip
    from streamfuse.testing.splice import Shot, _shot_pictures, _shot_sound

    OUT.mkdir(parents=True, exist_ok=True)
    labels = OUT / "labels.csv"
    if labels.exists():
        return labels
    for old in OUT.glob("*.mkv"):
        old.unlink()
    faces = [p for p in sorted((MEDIA / "asl").glob("*.mkv")) if _duration(p) >= LENGTH + 0.1][:11]
    street = [(MEDIA / "intel" / "car-detection.mp4", float(t)) for t in range(0, 22, 2)]
    speech = speech_crops()
    n = LENGTH * FPS
    rows = ["source,start,end,label"]
    k = 0
    for label, videos, sound in (("speaker", [(p, 0.0) for p in faces], True), ("face-only", [(p, 0.0) for p in faces], False),
                                 ("voice-only", street, True), ("empty", street, False)):
        for i, (video, start) in enumerate(videos):
            path = OUT / f"{label}-{i:02d}.mkv"
            pictures = _shot_pictures(Shot(video, start, LENGTH), n, Fraction(FPS), SIZE)
            track = VideoTrack(SIZE[0], SIZE[1], ((j, p) for j, p in enumerate(pictures)), Fraction(1, FPS),
                               rate=Fraction(FPS), gop=FPS)
            if sound:
                src, at = speech[(i + k) % len(speech)]
                samples = _shot_sound(Shot(src, at, LENGTH), LENGTH * RATE)
            else:
                samples = np.zeros(LENGTH * RATE, np.float32)
            write_clip(path, "matroska", video=track, audio=AudioTrack(samples, RATE))
            rows.append(f"{path.name},0,{LENGTH},{label}")
        k += 3
    labels.write_text("\n".join(rows) + "\n")
    return labels


def main() -> int:
    import contextlib
    import io

    from streamfuse.cli.main import main as streamfuse

    if not MEDIA.is_dir():
        raise SystemExit(f"the real media folder {MEDIA} is missing")
    labels = build()
    print("truth, stated before training: 4 classes x 11 dubbed 2 s clips; speaker = face + speech, face-only, "
          "voice-only, empty; each modality alone can be right on at most 50 % (chance 25 %)")
    sets = [x for s in ENCODERS + [f"window.length={LENGTH}", f"window.hop={LENGTH}"] for x in ("--set", s)]
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        code = streamfuse(["eval", "--labels", str(labels), "--compare", "--json", "--no-background",
                           "--val-fraction", "0.3", "--cache", str(OUT / "cache"), *sets])
    if code:
        return code
    table = json.loads(buf.getvalue())
    print(f"{'model':<14}{'accuracy %':>16}{'macro F1':>16}   (held-out clips, 3 seeds; chance 25 %)")
    for name, row in table.items():
        a, f = row["accuracy"], row["macro_f1"]
        print(f"{name:<14}{100 * a['mean']:>9.1f} ± {100 * a['std']:<4.1f}{f['mean']:>9.3f} ± {f['std']:.3f}")
    print("bound for one modality alone: 50.0 %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
