"""Image-text tower speed on the CPU, and the pipeline's overhead around it.

A base-sized CLIP (ViT-B/32 shape: CLIPConfig's defaults, 224 px, patch 32, 12 layers of 768)
with random weights (no hub here; speed does not depend on the weights) is saved once under
benchmarks/out/ and loaded the way users' models are (``models.image_text=FOLDER``).

1. The image tower called directly (:class:`streamfuse.encode.foundation.image_text.ImageTextModel`,
   processor included): images per second at batch 1 and batch 16. Published CPU figures for CLIP
   ViT-B/32 are about 25-60 images/s (more cores than here).
2. ``streamfuse analyze`` of a generated clip with only the image-text stage on (decoding, windows,
   fusion, results included), and in the same run the tower called directly on the same number of
   frames in the same batches: windows per second, and the overhead ratio pipeline / tower
   (goal: at most 1.15).

    python benchmarks/bench_image_text.py [--quick] [--set KEY=VALUE]... [--json PATH]
"""

from __future__ import annotations

import json
import sys
import time

import numpy as np

import _bench
from _bench import OUT, progress

OFF = ("encoders.asr.enabled=false", "encoders.text.enabled=false", "encoders.people.enabled=false",
       "encoders.faces.enabled=false", "encoders.vad.enabled=false", "encoders.objects.enabled=false",
       "encoders.sounds.enabled=false", "encoders.motion.enabled=false", "encoders.loudness.enabled=false")


def base_clip():
    folder = OUT / "clip-vit-b32-random"
    if (folder / "model.safetensors").is_file():
        return folder
    progress("building a random ViT-B/32-shaped CLIP (once)")
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from streamfuse.testing.tiny_models import _clip_vocab

    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = _clip_vocab(folder)
    tokenizer = CLIPTokenizer(str(vocab), str(merges), model_max_length=77)
    torch.manual_seed(0)
    CLIPModel(CLIPConfig()).eval().save_pretrained(folder)
    CLIPProcessor(image_processor=CLIPImageProcessor(), tokenizer=tokenizer).save_pretrained(folder)
    return folder


def tower_rate(model, batch: int, seconds: float) -> float:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (180, 320, 3), dtype=np.uint8) for _ in range(batch)]
    model.images(images)  # warm-up
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        model.images(images)
        n += batch
    return n / (time.perf_counter() - t0)


def main() -> None:
    ap = _bench.parser(__doc__)
    ap.add_argument("--threads", type=int, default=1, help="torch threads, for the tower and the pipeline alike "
                                                           "(default 1, the stage's default)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="where the tower runs (both measures)")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)

    from streamfuse.config import load_config
    from streamfuse.encode.foundation.image_text import ImageTextModel
    from streamfuse.testing import media as gen
    from streamfuse.testing.run import run_pipeline

    folder = base_clip()
    torch.set_num_threads(args.threads)
    model = ImageTextModel(str(folder), args.device)
    seconds = 3.0 if args.quick else 10.0
    rows = {"threads": torch.get_num_threads(), "device": args.device}
    for batch in (1, 16):
        progress(f"image tower, batch {batch}")
        rows[f"tower_images_per_s_batch{batch}"] = round(tower_rate(model, batch, seconds), 2)

    duration = 10.0 if args.quick else 30.0
    clip = gen.make_video_only_clip(OUT / "image_text_clip.mkv", duration=duration, size=(320, 180))
    sets = (*OFF, f"models.image_text={folder}", "encoders.image_text.labels=[car, dog, person]",
            f"encoders.image_text.threads={args.threads}", f"encoders.image_text.device={args.device}", *args.sets)
    rate = load_config(sets=sets).encoders.image_text.rate
    progress(f"pipeline: {duration:.0f} s clip, {rate:g} frames/s embedded")
    run_pipeline(clip.path, OUT / "image_text_warm", *sets)  # load the model in this process first
    frames = int(duration * rate)
    rng = np.random.default_rng(1)
    images = [rng.integers(0, 255, (180, 320, 3), dtype=np.uint8) for _ in range(frames)]
    hop_frames = max(1, int(round(rate * load_config(sets=sets).window.hop)))
    pipeline_runs, tower_runs = [], []
    for attempt in range(1 if args.quick else 2):  # interleaved, best of each: a shared machine is noisy
        progress(f"pipeline run {attempt + 1}")
        t0 = time.perf_counter()
        result, _, windows = run_pipeline(clip.path, OUT / "image_text_run", *sets)
        pipeline_runs.append(time.perf_counter() - t0)
        if not result.ok:
            raise SystemExit(result.error)
        progress(f"the tower alone on {frames} frames, one window's new frames per call")
        t0 = time.perf_counter()
        torch.set_num_threads(args.threads)  # as the pipeline left it, whatever a stage set
        for i in range(0, frames, hop_frames):
            model.images(images[i:i + hop_frames])
        tower_runs.append(time.perf_counter() - t0)
    pipeline_s, tower_s = min(pipeline_runs), min(tower_runs)
    per_window = [len(w["video"].get("image_text", {}).get("frames", [])) for w in windows]
    rows.update({"windows": len(windows), "frames_embedded": frames, "frames_per_window_max": max(per_window),
                 "pipeline_seconds": round(pipeline_s, 2), "pipeline_windows_per_s": round(len(windows) / pipeline_s, 2),
                 "tower_seconds_same_frames": round(tower_s, 2),
                 "overhead_ratio": round(pipeline_s / tower_s, 3)})
    print(f"image-text tower (random ViT-B/32 shape, {args.device}, {rows['threads']} torch threads):")
    print(f"  batch  1: {rows['tower_images_per_s_batch1']:7.2f} images/s")
    print(f"  batch 16: {rows['tower_images_per_s_batch16']:7.2f} images/s   (published CLIP ViT-B/32 CPU: ~25-60)")
    print(f"pipeline with matching on: {rows['windows']} windows in {pipeline_s:.2f} s = "
          f"{rows['pipeline_windows_per_s']:.2f} windows/s ({frames} frames embedded)")
    print(f"  tower alone on the same frames: {tower_s:.2f} s; overhead ratio {rows['overhead_ratio']:.3f} (goal <= 1.15)")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
