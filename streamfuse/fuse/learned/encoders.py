"""Per-modality building blocks of the fusion models (torch modules).

:class:`StreamEmbed` turns a modality's streams into one token sequence: each stream normalised
(mean and spread fitted on the training set, kept in the weights), projected to the model width,
tagged with a learned stream embedding and a code of its time in the window (window-level tokens get
their own learned code). :class:`ModalityEncoder` adds a summary (CLS) token and a small transformer
whose layers the hybrid model runs one by one to share its bottleneck tokens between them.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .config import ModelConfig, StreamSpec

_FREQS = 4


def time_code(times: torch.Tensor) -> torch.Tensor:
    """Fourier features ``(.., 2 * _FREQS)`` of a time in ``[0, 1)`` of the window."""
    k = torch.arange(1, _FREQS + 1, dtype=times.dtype, device=times.device)
    angle = 2 * math.pi * times[..., None] * k
    return torch.cat([torch.sin(angle), torch.cos(angle)], -1)


class StreamEmbed(nn.Module):
    """The streams of one modality -> ``(tokens (B, T, dim), valid (B, T), times (B, T))``."""

    def __init__(self, streams: list[StreamSpec], dim: int) -> None:
        super().__init__()
        self.names = [s.name for s in streams]
        self.proj = nn.ModuleList([nn.Linear(s.dim, dim) for s in streams])
        for i, s in enumerate(streams):
            self.register_buffer(f"mean{i}", torch.zeros(s.dim))
            self.register_buffer(f"scale{i}", torch.ones(s.dim))
        self.kind = nn.Parameter(torch.randn(len(streams), dim) * 0.02)
        self.time = nn.Linear(2 * _FREQS, dim)
        self.window_level = nn.Parameter(torch.randn(dim) * 0.02)
        self.norm = nn.LayerNorm(dim)

    def set_normalisation(self, name: str, mean: torch.Tensor, std: torch.Tensor) -> None:
        i = self.names.index(name)
        getattr(self, f"mean{i}").copy_(mean)
        std = torch.where(std < 1e-6, torch.ones_like(std), std.clamp_min(1e-3))  # a constant feature: unscaled
        getattr(self, f"scale{i}").copy_(1.0 / std)

    def forward(self, batch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        tokens, valid, times = [], [], []
        for i, name in enumerate(self.names):
            v = (batch.values[name] - getattr(self, f"mean{i}")) * getattr(self, f"scale{i}")
            t = batch.times[name]
            level = (t < 0)[..., None]
            code = torch.where(level, self.window_level, self.time(time_code(t.clamp_min(0))))
            tokens.append(self.proj[i](v) + self.kind[i] + code)
            valid.append(batch.valid[name])
            times.append(t)
        return self.norm(torch.cat(tokens, 1)), torch.cat(valid, 1), torch.cat(times, 1)


def layer(config: ModelConfig) -> nn.TransformerEncoderLayer:
    return nn.TransformerEncoderLayer(config.dim, config.heads, dim_feedforward=2 * config.dim,
                                      dropout=config.dropout, batch_first=True, norm_first=True)


class ModalityEncoder(nn.Module):
    """One modality: its streams embedded, a CLS token in front, ``config.layers`` transformer layers."""

    def __init__(self, streams: list[StreamSpec], config: ModelConfig) -> None:
        super().__init__()
        self.embed = StreamEmbed(streams, config.dim)
        self.cls = nn.Parameter(torch.randn(config.dim) * 0.02)
        self.layers = nn.ModuleList([layer(config) for _ in range(config.layers)])
        self.out_norm = nn.LayerNorm(config.dim)

    def tokens(self, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x (B, 1 + T, dim), valid (B, 1 + T))``: CLS first, always valid."""
        x, valid, _ = self.embed(batch)
        b = x.shape[0]
        x = torch.cat([self.cls.expand(b, 1, -1), x], 1)
        valid = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), valid], 1)
        return x, valid

    def run(self, x: torch.Tensor, valid: torch.Tensor, layers: range) -> torch.Tensor:
        for i in layers:
            x = self.layers[i](x, src_key_padding_mask=~valid)
        return x

    def forward(self, batch) -> torch.Tensor:
        """The CLS summary ``(B, dim)``."""
        x, valid = self.tokens(batch)
        return self.out_norm(self.run(x, valid, range(len(self.layers)))[:, 0])
