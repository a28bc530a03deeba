"""The three fusion models behind one interface: :func:`build_model` ``(config) -> FusionModel``.

Every model takes a :class:`~.inputs.Batch` and returns an :class:`Output`: per-class ``logits``
(B, C), the fused window ``embedding`` (B, dim), and ``unimodal`` logits (B, M, C) from one head per
modality (the auxiliary losses train them; the late models combine them). A modality an example
lacks (``batch.present``) takes no part in its decision.

- :class:`EarlyFusion`: streams projected, put on a common time grid (``grid`` steps; window-level
  tokens fill every step), modalities concatenated along the feature axis, a temporal transformer.
- :class:`LateFusion`: a :class:`~.encoders.ModalityEncoder` and a head per modality; logits combined
  with learned weights renormalised over the modalities present (``combine: weights``), or a
  product of experts (sum of log-probabilities, learned exponents; ``combine: poe``).
- :class:`HybridFusion`: per-modality encoders whose last ``fusion_layers`` layers exchange
  information only through ``bottleneck`` shared tokens (Nagrani et al., "Attention Bottlenecks for
  Multimodal Fusion", NeurIPS 2021: each modality's layer reads and updates the tokens, which are
  then averaged over the modalities present), plus the late heads, joined by a final head.

:meth:`FusionModel.attribution` says per example how much each modality drove the decision (shares
summing to 1 over the modalities present): the late model's renormalised weight times each head's
probability of the chosen class; the others by occlusion (how much the chosen class's probability
falls when the modality is hidden).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .config import ModelConfig
from .encoders import ModalityEncoder, StreamEmbed, layer
from .inputs import Batch


@dataclass
class Output:
    logits: torch.Tensor
    embedding: torch.Tensor
    unimodal: torch.Tensor


def renormalised(weights: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Softmax of ``weights (M,)`` over the modalities ``present (B, M)`` (zero elsewhere)."""
    w = weights.expand(present.shape).masked_fill(~present, float("-inf"))
    w = torch.softmax(w, -1)
    return torch.nan_to_num(w, nan=0.0)  # an example with no modality: all zero


class FusionModel(nn.Module):
    config: ModelConfig

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        self.register_buffer("temperature", torch.ones(()))

    @property
    def modalities(self) -> list[str]:
        return self.config.modalities

    def stream_embeds(self) -> list[StreamEmbed]:
        return [m for m in self.modules() if isinstance(m, StreamEmbed)]

    def probabilities(self, out: Output) -> torch.Tensor:
        return torch.softmax(out.logits / self.temperature, -1)

    @torch.no_grad()
    def attribution(self, batch: Batch, out: Output | None = None) -> torch.Tensor:
        """``(B, M)`` shares of each modality in the decision, 1 in all over the present ones."""
        out = out or self(batch)
        probs = self.probabilities(out)
        chosen = probs.argmax(-1)
        p = probs.gather(1, chosen[:, None])[:, 0]
        m = len(self.modalities)
        drops = torch.zeros(len(batch), m)
        for i in range(m):
            hide = torch.zeros_like(batch.present)
            hide[:, i] = True
            q = self.probabilities(self(batch.without(hide))).gather(1, chosen[:, None])[:, 0]
            drops[:, i] = (p - q).clamp_min(0)
        return _shares(drops, batch.present)


def _shares(scores: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    scores = scores * present + 1e-6 * present  # all equal when nothing differs
    return scores / scores.sum(-1, keepdim=True).clamp_min(1e-12)


class _Heads(nn.Module):
    """One linear head per modality over its summary token."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.heads = nn.ModuleList([nn.Linear(config.dim, len(config.classes)) for _ in config.modalities])

    def forward(self, summaries: list[torch.Tensor]) -> torch.Tensor:
        return torch.stack([h(s) for h, s in zip(self.heads, summaries)], 1)


class EarlyFusion(FusionModel):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        mods = config.modalities
        self.embeds = nn.ModuleList([StreamEmbed(config.streams_of(m), config.dim) for m in mods])
        self.missing = nn.Parameter(torch.randn(len(mods), config.dim) * 0.02)
        self.join = nn.Linear(len(mods) * config.dim, config.dim)
        self.position = nn.Parameter(torch.randn(config.grid, config.dim) * 0.02)
        self.cls = nn.Parameter(torch.randn(config.dim) * 0.02)
        self.layers = nn.ModuleList([layer(config) for _ in range(config.layers)])
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, len(config.classes))
        self.uni = _Heads(config)

    def grid(self, x: torch.Tensor, valid: torch.Tensor, times: torch.Tensor) -> torch.Tensor:
        """Tokens ``(B, T, d)`` averaged onto the ``grid`` steps ``(B, G, d)``; window-level ones
        count in every step."""
        g = self.config.grid
        bins = (times.clamp(0, 0.999999) * g).long()
        onehot = nn.functional.one_hot(bins, g).float()
        onehot = torch.where((times < 0)[..., None], torch.ones_like(onehot), onehot) * valid[..., None]
        total = torch.einsum("btg,btd->bgd", onehot, x)
        return total / onehot.sum(1)[..., None].clamp_min(1.0)

    def forward(self, batch: Batch) -> Output:
        parts, summaries = [], []
        for i, embed in enumerate(self.embeds):
            x, valid, times = embed(batch)
            grid = self.grid(x, valid, times)
            here = batch.present[:, i][:, None, None]
            grid = torch.where(here, grid, self.missing[i])
            parts.append(grid)
            summaries.append(grid.mean(1))
        b = batch.present.shape[0]
        x = self.join(torch.cat(parts, -1)) + self.position
        x = torch.cat([self.cls.expand(b, 1, -1), x], 1)
        for lay in self.layers:
            x = lay(x)
        emb = self.norm(x[:, 0])
        return Output(self.head(emb), emb, self.uni(summaries))


class LateFusion(FusionModel):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.encoders = nn.ModuleList([ModalityEncoder(config.streams_of(m), config) for m in config.modalities])
        self.uni = _Heads(config)
        self.weights = nn.Parameter(torch.zeros(len(config.modalities)))

    def forward(self, batch: Batch) -> Output:
        summaries = [enc(batch) for enc in self.encoders]
        z = self.uni(summaries)
        w = renormalised(self.weights, batch.present)
        if self.config.combine == "poe":
            exps = nn.functional.softplus(self.weights) * batch.present
            logits = (exps[..., None] * torch.log_softmax(z, -1)).sum(1)
        else:
            logits = (w[..., None] * z).sum(1)
        emb = (w[..., None] * torch.stack(summaries, 1)).sum(1)
        return Output(logits, emb, z)

    @torch.no_grad()
    def attribution(self, batch: Batch, out: Output | None = None) -> torch.Tensor:
        out = out or self(batch)
        chosen = out.logits.argmax(-1)
        p = torch.softmax(out.unimodal, -1).gather(2, chosen[:, None, None].expand(-1, out.unimodal.shape[1], 1))[..., 0]
        if self.config.combine == "poe":
            w = nn.functional.softplus(self.weights).expand(batch.present.shape)
        else:
            w = renormalised(self.weights, batch.present)
        return _shares(w * p, batch.present)


class HybridFusion(FusionModel):
    def __init__(self, config: ModelConfig) -> None:
        super().__init__(config)
        self.encoders = nn.ModuleList([ModalityEncoder(config.streams_of(m), config) for m in config.modalities])
        self.bottleneck = nn.Parameter(torch.randn(config.bottleneck, config.dim) * 0.02)
        self.uni = _Heads(config)
        self.weights = nn.Parameter(torch.zeros(len(config.modalities)))
        self.fuse = nn.Sequential(nn.LayerNorm(2 * config.dim), nn.Linear(2 * config.dim, config.dim), nn.GELU(),
                                  nn.Dropout(config.dropout), nn.Linear(config.dim, config.dim))
        self.norm = nn.LayerNorm(config.dim)
        self.head = nn.Linear(config.dim, len(config.classes))

    def forward(self, batch: Batch) -> Output:
        cfg = self.config
        split = cfg.layers - cfg.fusion_layers
        xs, valids = [], []
        for enc in self.encoders:
            x, valid = enc.tokens(batch)
            xs.append(enc.run(x, valid, range(split)))
            valids.append(valid)
        b = xs[0].shape[0]
        bn = self.bottleneck.expand(b, -1, -1)
        nb = bn.shape[1]
        share = batch.present.float()
        count = share.sum(1).clamp_min(1.0)[:, None, None]
        for i in range(split, cfg.layers):
            updated = torch.zeros_like(bn)
            for m, enc in enumerate(self.encoders):
                joint = torch.cat([xs[m], bn], 1)
                mask = torch.cat([valids[m], torch.ones(b, nb, dtype=torch.bool, device=bn.device)], 1)
                y = enc.layers[i](joint, src_key_padding_mask=~mask)
                xs[m], bm = y[:, :-nb], y[:, -nb:]
                updated = updated + share[:, m, None, None] * bm
            bn = torch.where(share.sum(1)[:, None, None] > 0, updated / count, bn)
        summaries = [enc.out_norm(x[:, 0]) for enc, x in zip(self.encoders, xs)]
        z = self.uni(summaries)
        w = renormalised(self.weights, batch.present)
        pooled = (w[..., None] * torch.stack(summaries, 1)).sum(1)
        emb = self.norm(self.fuse(torch.cat([bn.mean(1), pooled], -1)) + pooled)
        late = (w[..., None] * z).sum(1) if self.config.late_in_head else 0
        return Output(self.head(emb) + late, emb, z)


MODELS = {"early": EarlyFusion, "late": LateFusion, "hybrid": HybridFusion}


def build_model(config: ModelConfig) -> FusionModel:
    """A fresh model for ``config``, its weights drawn from ``config.seed``."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        return MODELS[config.kind](config)
