"""``streamfuse train`` and ``streamfuse eval``: fusion models on the user's labelled footage.

``train --labels CSV --fusion early|late|hybrid -o MODEL_DIR [--seed S] [--epochs N]`` computes
every labelled source's features with the pipeline's own encoders (the configuration given by
``-c`` / ``--set``; cached on disk by content hash and settings, so several variants train on one
extraction), splits validation by source (never windows of one clip on both sides), trains with
early stopping and saves the model folder. ``eval --labels CSV --model MODEL_DIR [--json]`` scores
a model on every labelled window; ``eval --labels CSV --compare`` trains each modality alone,
early, late and hybrid over three seeds and prints the table.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from pathlib import Path
from typing import Any

from ..errors import UserInputError
from .common import EXIT_OK, _add_config_args

MAX_STEPS = 64


def add_parsers(sub) -> None:
    t = sub.add_parser("train", help="train a fusion model on labelled footage (labels CSV: source,start,end,label)")
    _common(t)
    t.add_argument("--fusion", choices=["early", "late", "hybrid"], default="hybrid", help="model kind (default hybrid)")
    t.add_argument("-o", "--output", required=True, metavar="MODEL_DIR", help="the model folder to write")
    t.add_argument("--seed", type=int, default=0, help="seed of the split, weights and training (default 0)")
    t.add_argument("--epochs", type=int, default=60, help="most epochs (early stopping may end sooner; default 60)")
    t.add_argument("--val-fraction", type=float, default=0.2, help="share of the sources held out for validation")
    e = sub.add_parser("eval", help="score a fusion model on labelled footage, or compare model kinds (--compare)")
    _common(e)
    e.add_argument("--model", metavar="MODEL_DIR", help="the model folder to score")
    e.add_argument("--compare", action="store_true", help="train and score each modality alone, early, late and "
                                                          "hybrid over 3 seeds (validation split by source)")
    e.add_argument("--json", action="store_true", help="print the scores as JSON on standard output")
    e.add_argument("--epochs", type=int, default=60, help="--compare: most epochs per model")
    e.add_argument("--val-fraction", type=float, default=0.2, help="--compare: share of the sources held out")


def _common(p) -> None:
    p.add_argument("--labels", required=True, metavar="CSV", help="rows source,start,end,label (with a header)")
    p.add_argument("--no-background", action="store_true",
                   help="leave out windows outside every span (default: they are the class 'background')")
    p.add_argument("--cache", metavar="DIR", default=None,
                   help="feature cache folder (default $XDG_CACHE_HOME/streamfuse/features)")
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    _add_config_args(p)


# -- features -----------------------------------------------------------------------------------


def _cache_dir(arg: str | None) -> Path:
    if arg:
        return Path(arg)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "streamfuse" / "features"


def _settings(config) -> dict[str, Any]:
    """What shapes the features: the encoders' settings and the windows."""
    return {"encoders": dataclasses.asdict(config.encoders), "window": dataclasses.asdict(config.window),
            "max_steps": MAX_STEPS}


def extract(paths: list[str], config, cache_dir: Path, progress: bool) -> dict[str, list]:
    """Per source path, its windows' features (from the cache, or computed and cached)."""
    from tqdm import tqdm

    from ..fuse.learned.dataset import FeatureCache, window_features
    from ..fuse.learned.inputs import window_modalities
    from ..runtime.source_stage import SourceStage
    from ..runtime.stages import EncodeStage
    from ..sources.resolve import resolve_inputs

    cache = FeatureCache(cache_dir)
    settings = _settings(config)
    out: dict[str, list] = {}
    todo = []
    for path in paths:
        key = cache.key(path, settings)
        hit = cache.load(key)
        if hit is None:
            todo.append((path, key))
        else:
            out[path] = hit
    if todo:
        encode = EncodeStage(config.encoders)
        try:
            for path, key in tqdm(todo, desc="features", unit="source", disable=not progress or len(todo) < 2):
                (source,) = resolve_inputs([path])
                stage = SourceStage(source, config)
                windows = []
                try:
                    for window in tqdm(stage, desc=Path(path).name[:30], unit="window", disable=not progress,
                                       leave=False):
                        features = encode(window)
                        windows.append(window_features(window.index, window.start, window.end, features,
                                                       window_modalities(window), MAX_STEPS))
                finally:
                    stage.demuxer.close()
                cache.save(key, windows)
                out[path] = windows
        finally:
            encode.close()
    return out


def labelled(spans, features: dict[str, list], background: str | None):
    """``[(source, WindowFeatures, label)]`` of every window with a known label."""
    from ..fuse.learned.dataset import window_label

    by_source: dict[str, list] = {}
    for s in spans:
        by_source.setdefault(s.source, []).append(s)
    rows = []
    for source, windows in features.items():
        for w in windows:
            label = window_label(by_source[source], w.start, w.end, background)
            if label is not None:
                rows.append((source, w, label))
    return rows


def split_sources(sources: list[str], fraction: float, seed: int) -> tuple[list[str], list[str]]:
    """``(train, validation)`` sources: a seeded shuffle; no validation with a single source."""
    import numpy as np

    if not 0.0 <= fraction < 1.0:
        raise UserInputError(f"--val-fraction: {fraction} must be at least 0 and below 1")
    order = sorted(sources)
    np.random.default_rng(seed).shuffle(order)
    n_val = 0 if len(order) < 2 or fraction == 0 else max(1, round(fraction * len(order)))
    n_val = min(n_val, len(order) - 1)
    return sorted(order[n_val:]), sorted(order[:n_val])


def _prepare(args):
    from ..config.loader import load_config
    from ..fuse.learned.dataset import BACKGROUND, read_labels

    spans = read_labels(args.labels)
    config = load_config(args.config, args.sets)
    background = None if args.no_background else BACKGROUND
    sources = sorted({s.source for s in spans})
    progress = not args.no_progress and sys.stderr.isatty()
    features = extract(sources, config, _cache_dir(args.cache), progress)
    rows = labelled(spans, features, background)
    return config, background, rows, progress


def _examples(rows, keys):
    return [w.example(keys) for _, w, _ in rows]


def _fit(kind, rows, train_src, val_src, classes, keys, streams, seed, epochs, progress, only=None):
    from tqdm import tqdm

    from ..fuse.learned.config import ModelConfig, TrainConfig
    from ..fuse.learned.train import train

    if only is not None:
        streams = [s for s in streams if s.modality == only]
    cfg = ModelConfig(kind=kind, streams=streams, classes=classes, seed=seed)
    tr = [r for r in rows if r[0] in train_src]
    va = [r for r in rows if r[0] in val_src]
    index = {c: i for i, c in enumerate(classes)}
    bar = tqdm(total=epochs, desc=f"training {kind if only is None else only}", unit="epoch", disable=not progress,
               leave=False)

    def on_epoch(row):
        bar.update(1)
        bar.set_postfix({k: round(v, 3) for k, v in row.items() if k != "epoch"})

    try:
        result = train(cfg, TrainConfig(epochs=epochs, seed=seed, calibrate=bool(va)), _examples(tr, keys),
                       [index[r[2]] for r in tr], _examples(va, keys) or None, [index[r[2]] for r in va] or None,
                       on_epoch=on_epoch)
    finally:
        bar.close()
    return result, va


def _design(rows, where: str):
    from ..fuse.learned.dataset import check_classes, summary_keys_of
    from ..fuse.learned.inputs import stream_specs

    if not rows:
        raise UserInputError(f"{where}: no window lies wholly inside a labelled span or outside every span; "
                             "label longer spans or use shorter windows (--set window.length=...)")
    classes = check_classes([r[2] for r in rows], where)
    keys = summary_keys_of(w for _, w, _ in rows)
    streams = stream_specs(((w.example(keys), w.kinds(keys)) for _, w, _ in rows), keys)
    if not streams:
        raise UserInputError(f"{where}: the enabled encoders gave no features a fusion model can read; enable "
                             "encoders (see 'streamfuse models')")
    return classes, keys, streams


def _score(model, rows, keys, classes):
    from ..fuse.learned.metrics import scores
    from ..fuse.learned.train import predict

    index = {c: i for i, c in enumerate(classes)}
    pred = predict(model, _examples(rows, keys), attribution=False).probs.argmax(1)
    return scores([index[r[2]] for r in rows], pred, classes)


def cmd_train(args) -> int:
    from ..fuse.learned.io import save_model

    if args.epochs < 1:
        raise UserInputError(f"--epochs: {args.epochs} must be at least 1")
    config, background, rows, progress = _prepare(args)
    classes, keys, streams = _design(rows, args.labels)
    train_src, val_src = split_sources(sorted({r[0] for r in rows}), args.val_fraction, args.seed)
    result, va = _fit(args.fusion, rows, train_src, val_src, classes, keys, streams, args.seed, args.epochs, progress)
    val = _score(result.model, va, keys, classes) if va else None
    meta = {"name": Path(args.output).name, "background": background, "max_steps": MAX_STEPS,
            "encoders": sorted({s.name.rsplit(".", 1)[0] for s in streams}),
            "features": json.loads(json.dumps(_settings(config), default=str)),
            "labels": str(Path(args.labels).resolve()), "train_sources": train_src, "val_sources": val_src,
            "windows": {"train": len(rows) - len(va), "val": len(va)}, "best_epoch": result.best_epoch,
            "epochs_run": len(result.history), "validation": val}
    folder = save_model(args.output, result.model, meta)
    how = (f"validation ({len(val_src)} source(s), {len(va)} windows): accuracy {val['accuracy']:.3f}, "
           f"macro F1 {val['macro_f1']:.3f}") if val else "no validation (one source)"
    print(f"trained {args.fusion} on {len(rows) - len(va)} windows of {len(train_src)} source(s), classes "
          f"{', '.join(classes)}; {how}; best epoch {result.best_epoch} of {len(result.history)}")
    print(f"  model: {folder}")
    return EXIT_OK


def cmd_eval(args) -> int:
    if args.compare:
        return _compare(args)
    if not args.model:
        raise UserInputError("eval needs --model MODEL_DIR (or --compare to train and compare model kinds)")
    from ..fuse.learned.io import load_model

    model, meta = load_model(args.model)  # first: a bad folder is reported before features are computed
    args.no_background = args.no_background or meta.get("background") is None
    config, background, rows, progress = _prepare(args)
    classes = list(model.config.classes)
    for source, w, label in rows:
        if label not in classes:
            raise UserInputError(f"{args.labels}: label {label!r} is not a class of the model {args.model} "
                                 f"(its classes: {', '.join(classes)})")
    if not rows:
        raise UserInputError(f"{args.labels}: no window has a known label")
    from ..fuse.learned.inputs import check_example

    keys = model.config.summary_keys()
    for source, w, _ in rows[:1]:
        check_example(w.example(keys), model.config, f"{Path(source).name} window {w.index}")
    result = _score(model, rows, keys, classes)
    result = {"accuracy": result["accuracy"], "macro_f1": result["macro_f1"], "per_class": result["per_class"],
              "windows": len(rows)}
    out = Path(args.model) / "eval.json"
    out.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{len(rows)} windows: accuracy {result['accuracy']:.3f}, macro F1 {result['macro_f1']:.3f}")
        for c, f1 in result["per_class"].items():
            print(f"  {c:<24} F1 {f1:.3f}")
        print(f"  written: {out}")
    return EXIT_OK


def _compare(args) -> int:
    import numpy as np

    _, _, rows, progress = _prepare(args)
    classes, keys, streams = _design(rows, args.labels)
    table: dict[str, dict[str, list[float]]] = {}
    variants = [(f"{m} only", "late", m) for m in dict.fromkeys(s.modality for s in streams)]
    variants += [(k, k, None) for k in ("early", "late", "hybrid")]
    for seed in range(3):
        train_src, val_src = split_sources(sorted({r[0] for r in rows}), args.val_fraction, seed)
        if not val_src:
            raise UserInputError(f"{args.labels}: --compare needs at least two sources (validation is split by source)")
        for name, kind, only in variants:
            result, va = _fit(kind, rows, train_src, val_src, classes, keys, streams, seed, args.epochs, progress, only)
            s = _score(result.model, va, keys, classes)
            row = table.setdefault(name, {"accuracy": [], "macro_f1": []})
            row["accuracy"].append(s["accuracy"])
            row["macro_f1"].append(s["macro_f1"])
    summary = {name: {k: {"mean": float(np.mean(v)), "std": float(np.std(v))} for k, v in row.items()}
               for name, row in table.items()}
    if args.json:
        print(json.dumps(summary))
        return EXIT_OK
    print(f"{'model':<14}{'accuracy':>18}{'macro F1':>18}   (validation sources, 3 seeds)")
    for name, row in summary.items():
        a, f = row["accuracy"], row["macro_f1"]
        print(f"{name:<14}{a['mean']:>11.3f} ± {a['std']:.3f}{f['mean']:>11.3f} ± {f['std']:.3f}")
    return EXIT_OK
