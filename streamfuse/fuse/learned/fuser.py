"""The ``learned`` fuser: a trained fusion model (``fusion.model=MODEL_DIR``) run on every window.

Each window's encoder features become the model's token streams (:mod:`.inputs`); the model's
class probabilities, fused embedding and modality attribution go into the window record
(``learned``: label, confidence, scores, attribution) and the embedding sidecar
(``learned.embedding``). Windows whose most probable class is not the background class (and reaches
``fusion.min_confidence``) are observations of a durative ``fusion`` event labelled with the class,
joined over consecutive windows like every durative kind (``fusion.gap``, ``fusion.min_duration``),
its evidence holding the share each modality contributed and the model's name.

Setting ``fusion.model`` adds this fuser after the others; the model is loaded when the fuser is
built, so a bad folder is a one-line error before any media is read. This module imports torch
only when the fuser is built.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...align.window import Window
from ...config.fusion import FusionConfig
from ...encode.base import Detection, Features
from ...errors import ConfigError, ModelLoadError
from ...spec import SCORE, TEXT, EventKind, ModelInfo, StageSpec, data
from ...timebase import as_fraction
from ..base import Fused, FusionContext, Fuser
from ..tracker import SeriesTracker
from ..values import json_safe

FUSION = EventKind("fusion", "durative", ("video", "audio", "text"),
                   data(required=("label",), label=TEXT,
                        attribution={"type": "object", "additionalProperties": SCORE}, model=TEXT),
                   doc="a class of the trained fusion model (label) while windows show it; evidence.attribution: "
                       "the share of each modality in the decision")


def _models(config: FusionConfig) -> list[ModelInfo]:
    folder = getattr(config, "model", None)
    if not folder:
        return []
    ok = (Path(folder) / "config.json").is_file() and (Path(folder) / "model.safetensors").is_file()
    return [ModelInfo("learned", Path(folder).name, str(folder), ok, kind="folder",
                      how="" if ok else "train one with 'streamfuse train --labels CSV -o MODEL_DIR'")]


class LearnedFuser(Fuser):
    spec = StageSpec(key="learned", config=None, kinds=(FUSION,), models=_models,
                     doc="a trained fusion model (fusion.model): its classes as durative events with each "
                         "modality's share")

    def __init__(self, config: FusionConfig, context: FusionContext) -> None:
        super().__init__(config, context)
        folder = getattr(config, "model", None)
        if not folder:
            raise ConfigError("fusion.fusers: 'learned' needs fusion.model=MODEL_DIR, a folder written by "
                              "'streamfuse train'")
        from .io import load_model

        self.model, self.meta = load_model(folder)
        self.name = str(self.meta.get("name") or Path(folder).name)
        self.classes = list(self.model.config.classes)
        self.background = self.meta.get("background")
        self.summary_keys = self.model.config.summary_keys()
        self.max_steps = int(self.meta.get("max_steps", 64))
        self.encoders = sorted({s.name.rsplit(".", 1)[0] for s in self.model.config.streams})
        self._checked = False
        self._sums: dict[str, tuple[Any, dict[str, float], int]] = {}  # label -> (series, share sums, windows)
        self.tracker = SeriesTracker("fusion", FUSION.modalities, gap=as_fraction(config.gap),
                                     min_duration=as_fraction(config.min_duration), id_prefix=context.source_id)

    def _check(self, features: list[Features]) -> None:
        have = {f.encoder for f in features}
        missing = [e for e in self.encoders if e not in have]
        if missing:
            raise ModelLoadError(f"fusion.model {self.name} reads the encoder {missing[0]}, which is not enabled; "
                                 f"enable encoders.{missing[0]} (the model was trained with "
                                 f"{', '.join(self.encoders)})")
        self._checked = True

    def __call__(self, window: Window, features: list[Features]) -> Fused:
        from .inputs import check_example, from_features, window_modalities
        from .train import predict

        if not self._checked:
            self._check(features)
        tokens, _ = from_features(features, window.start, window.end, window_modalities(window),
                                  summary_keys=self.summary_keys, max_steps=self.max_steps)
        check_example(tokens, self.model.config, f"window {window.index}")
        pred = predict(self.model, [tokens])
        probs = pred.probs[0]
        best = int(np.argmax(probs))
        label, confidence = self.classes[best], float(probs[best])
        mods = self.model.modalities
        attribution = {m: round(float(a), 4) for m, a, here in zip(mods, pred.attribution[0], pred.present[0]) if here}
        record = {"learned": {"label": label, "confidence": round(confidence, 4),
                              "scores": {c: round(float(p), 4) for c, p in zip(self.classes, probs)},
                              "attribution": attribution}}
        phases = []
        if label != self.background and confidence >= self.config.min_confidence:
            det = Detection("fusion", window.start, window.end, confidence, label=label,
                            evidence={"attribution": self._mean_attribution(label, window, attribution),
                                      "model": self.name})
            phases.extend(self.tracker.observe(det))
            self._sums[label] = (self.tracker.open.get((label, None)), *self._sums[label][1:])
        phases.extend(self.tracker.advance(window.start))
        return Fused(events=self.context.events.phases(phases), record=json_safe(record),
                     embeddings={"learned.embedding": pred.embedding[0].astype(np.float32)})

    def _mean_attribution(self, label: str, window: Window, attribution: dict[str, float]) -> dict[str, float]:
        """The shares averaged over the windows of the series this window joins (a new series, as the
        tracker decides it, starts afresh)."""
        open_ = self.tracker.open.get((label, None))
        series, sums, n = self._sums.get(label, (None, {}, 0))
        if open_ is None or series is not open_ or window.start > open_.end + self.tracker.gap:
            sums, n = {}, 0
        for m, a in attribution.items():
            sums[m] = sums.get(m, 0.0) + a
        n += 1
        self._sums[label] = (None, sums, n)  # its series is known once the tracker has seen the window
        return {m: round(v / n, 4) for m, v in sums.items()}

    def finish(self) -> list[dict[str, Any]]:
        return self.context.events.phases(self.tracker.close_all())
