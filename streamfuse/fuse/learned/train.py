"""Training, prediction and calibration of a fusion model; deterministic for a seed.

:func:`train` fits a :func:`~.models.build_model` model on labelled examples: inputs normalised with
the training set's statistics, AdamW, **modality dropout** (each modality of an example hidden with
``modality_dropout`` chance, at least one kept), and **auxiliary unimodal losses** (each
modality's head is also trained on the label, weighted by ``aux_weight``; the remedy for modality
imbalance, where joint training lets the easiest modality starve the others of gradient, Wang et
al. CVPR 2020). With validation examples it keeps the weights of the best validation loss, stops
after ``patience`` epochs without progress, and fits a softmax temperature on them (calibration).
The same seeds, data and thread count give the same weights.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import torch
from torch import nn

from .config import ModelConfig, TrainConfig
from .inputs import Batch, Example, collate
from .models import FusionModel, build_model


def take(batch: Batch, idx: torch.Tensor) -> Batch:
    """The examples ``idx`` of ``batch``."""
    return Batch({k: v[idx] for k, v in batch.values.items()}, {k: v[idx] for k, v in batch.valid.items()},
                 {k: v[idx] for k, v in batch.times.items()}, batch.present[idx], batch.modalities,
                 None if batch.labels is None else batch.labels[idx], batch.stream_modality)


def fit_normalisation(model: FusionModel, batch: Batch) -> None:
    """Each stream's mean and spread over the valid training tokens, into every stream embedding."""
    for embed in model.stream_embeds():
        for name in embed.names:
            mask = batch.valid[name]
            values = batch.values[name][mask]
            if len(values) < 2:
                continue
            embed.set_normalisation(name, values.mean(0), values.std(0))


def modality_dropout(present: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    """``(B, M)`` True where a present modality is hidden; every example keeps at least one."""
    if p <= 0 or present.shape[1] < 2:
        return torch.zeros_like(present)
    drop = (torch.rand(present.shape, generator=generator) < p) & present
    kept = present & ~drop
    lost = ~kept.any(1) & present.any(1)
    if lost.any():
        # give back one present modality, chosen at random, to examples that lost all
        score = torch.rand(present.shape, generator=generator).masked_fill(~present, -1.0)
        back = nn.functional.one_hot(score.argmax(1), present.shape[1]).bool()
        drop = drop & ~(back & lost[:, None])
    return drop


def losses(model: FusionModel, batch: Batch, aux_weight: float) -> tuple[torch.Tensor, torch.Tensor]:
    """``(total loss, fused loss)`` of one batch."""
    out = model(batch)
    fused = nn.functional.cross_entropy(out.logits, batch.labels)
    if aux_weight <= 0:
        return fused, fused
    c = out.unimodal.shape[-1]
    per = nn.functional.cross_entropy(out.unimodal.reshape(-1, c), batch.labels.repeat_interleave(out.unimodal.shape[1]),
                                      reduction="none").view(out.unimodal.shape[:2])
    present = batch.present.float()
    aux = (per * present).sum() / present.sum().clamp_min(1.0)
    return fused + aux_weight * aux, fused


@dataclass
class TrainResult:
    model: FusionModel
    history: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0


def train(config: ModelConfig, settings: TrainConfig, examples: Sequence[Example], labels: Sequence[int],
          val_examples: Sequence[Example] | None = None, val_labels: Sequence[int] | None = None,
          on_epoch: Callable[[dict[str, float]], None] | None = None) -> TrainResult:
    """A trained model (in eval mode) and its per-epoch history."""
    model = build_model(config)
    data = collate(examples, config, labels)
    val = collate(val_examples, config, val_labels) if val_examples else None
    fit_normalisation(model, data)
    gen = torch.Generator().manual_seed(settings.seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(settings.seed)
        opt = torch.optim.AdamW(model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
        steps = settings.epochs * math.ceil(len(data) / settings.batch_size)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, settings.lr, total_steps=max(steps, 1), pct_start=0.1)
        best, best_state, best_epoch, waited = math.inf, None, 0, 0
        history = []
        for epoch in range(settings.epochs):
            model.train()
            order = torch.randperm(len(data), generator=gen)
            total, n = 0.0, 0
            for start in range(0, len(data), settings.batch_size):
                batch = take(data, order[start:start + settings.batch_size])
                batch = batch.without(modality_dropout(batch.present, config.modality_dropout, gen))
                loss, _ = losses(model, batch, settings.aux_weight)
                opt.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                opt.step()
                sched.step()
                total += loss.item() * len(batch)
                n += len(batch)
            row = {"epoch": epoch + 1, "loss": total / max(n, 1)}
            if val is not None:
                model.eval()
                with torch.no_grad():
                    out = model(val)
                    row["val_loss"] = float(nn.functional.cross_entropy(out.logits, val.labels))
                    row["val_accuracy"] = float((out.logits.argmax(-1) == val.labels).float().mean())
                if row["val_loss"] < best - 1e-4:
                    best, best_state, best_epoch, waited = row["val_loss"], copy.deepcopy(model.state_dict()), epoch + 1, 0
                else:
                    waited += 1
            history.append(row)
            if on_epoch:
                on_epoch(row)
            if val is not None and waited >= settings.patience:
                break
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    if val is not None and settings.calibrate:
        calibrate(model, val)
    return TrainResult(model, history, best_epoch or len(history))


@torch.no_grad()
def calibrate(model: FusionModel, batch: Batch) -> float:
    """Fit the softmax temperature minimising the negative log-likelihood on ``batch`` (a grid
    search: deterministic, and the NLL is smooth in it); returns it."""
    logits = model(batch).logits
    grid = torch.exp(torch.linspace(math.log(0.05), math.log(20.0), 121))
    nll = torch.stack([nn.functional.cross_entropy(logits / t, batch.labels) for t in grid])
    t = grid[int(nll.argmin())]
    model.temperature.fill_(float(t))
    return float(t)


@dataclass
class Prediction:
    """Per example: ``probs (N, C)`` (calibrated), ``embedding (N, dim)``, ``attribution (N, M)``,
    ``unimodal (N, M, C)`` probabilities of each modality's head, ``present (N, M)``."""

    probs: np.ndarray
    embedding: np.ndarray
    attribution: np.ndarray
    unimodal: np.ndarray
    present: np.ndarray


@torch.no_grad()
def predict(model: FusionModel, examples: Sequence[Example] | Batch, *, batch_size: int = 256,
            attribution: bool = True) -> Prediction:
    model.eval()
    data = examples if isinstance(examples, Batch) else collate(examples, model.config)
    parts: list[list[np.ndarray]] = [[], [], [], [], []]
    for start in range(0, len(data), batch_size):
        batch = take(data, torch.arange(start, min(start + batch_size, len(data))))
        out = model(batch)
        att = model.attribution(batch, out) if attribution else torch.zeros(batch.present.shape)
        for i, value in enumerate((model.probabilities(out), out.embedding, att,
                                   torch.softmax(out.unimodal, -1), batch.present)):
            parts[i].append(value.numpy())
    n_mod, n_cls = len(model.modalities), len(model.config.classes)
    empty = [np.zeros((0, n_cls)), np.zeros((0, model.config.dim)), np.zeros((0, n_mod)),
             np.zeros((0, n_mod, n_cls)), np.zeros((0, n_mod), bool)]
    return Prediction(*[np.concatenate(p) if p else e for p, e in zip(parts, empty)])
