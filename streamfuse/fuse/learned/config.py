"""Configuration of a learned fusion model and of its training (checked dataclasses, saved as JSON).

A model reads **streams**: named token sequences of one modality each (``tags.scores``, one token
per audio patch; ``text.text``, one sentence embedding per window; ``faces.summary``, the encoder's
numeric summary). :class:`StreamSpec` names a stream and its width; :class:`ModelConfig` lists the
streams, the classes and the architecture; :class:`TrainConfig` the optimisation. Both are
:class:`~streamfuse.config.base.Section` dataclasses, so a bad value is a one-line
:class:`~streamfuse.errors.ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

from ...config.base import Section, bounded
from ...errors import ConfigError

Kind = Literal["early", "late", "hybrid"]
Combine = Literal["weights", "poe"]
MODALITIES = ("video", "audio", "text")


@dataclass(frozen=True)
class StreamSpec(Section):
    """One input stream: ``name`` (``<encoder>.<feature>``), its ``modality`` and vector width;
    ``keys``: for a ``<encoder>.summary`` stream, the summary keys it reads, in order."""

    name: str = ""
    modality: Literal["video", "audio", "text"] = "video"
    dim: int = bounded(1, 1, 1 << 20)
    keys: list[str] = field(default_factory=list)

    def check(self) -> None:
        if not self.name:
            raise ConfigError("streams: every stream needs a name")
        if self.keys and len(self.keys) != self.dim:
            raise ConfigError(f"streams: {self.name} has {len(self.keys)} keys but dim {self.dim}")


@dataclass(frozen=True)
class ModelConfig(Section):
    """A fusion model's architecture.

    ``kind``: ``early`` (project, common time grid of ``grid`` steps, concatenate modalities along
    features, temporal transformer), ``late`` (an encoder and head per modality; logits combined with
    learned weights renormalised over the modalities present, or a product of experts with
    ``combine: poe``), ``hybrid`` (per-modality encoders whose last ``fusion_layers`` layers exchange
    information through ``bottleneck`` shared tokens (Nagrani et al. 2021), plus the late heads,
    joined by a final head: its logits from the fused embedding plus, with ``late_in_head``, the late
    heads' combined logits). ``modality_dropout``: chance a modality is hidden from a training
    example (at least one stays), so that the model works when one is missing.
    """

    kind: Kind = "hybrid"
    streams: list[StreamSpec] = field(default_factory=list)
    classes: list[str] = field(default_factory=list)
    dim: int = bounded(64, 4, 4096, doc="width of every token inside the model")
    heads: int = bounded(4, 1, 64)
    layers: int = bounded(2, 1, 24, doc="transformer layers per modality encoder (early: of the joint encoder)")
    fusion_layers: int = bounded(1, 1, 24, doc="hybrid: the last layers that share bottleneck tokens")
    bottleneck: int = bounded(4, 1, 64, doc="hybrid: number of bottleneck fusion tokens")
    grid: int = bounded(8, 1, 1024, doc="early: steps of the common time grid")
    dropout: float = bounded(0.1, 0.0, 0.9)
    modality_dropout: float = bounded(0.3, 0.0, 0.9)
    combine: Combine = "weights"
    late_in_head: bool = True
    seed: int = bounded(0, 0, 2**31 - 1)

    def __post_init__(self) -> None:
        streams = [s if isinstance(s, StreamSpec) else _stream(s) for s in self.streams]
        object.__setattr__(self, "streams", streams)
        super().__post_init__()

    def check(self) -> None:
        if len(self.classes) < 2:
            raise ConfigError(f"classes: a model needs at least 2 classes, got {self.classes}")
        if len(set(self.classes)) != len(self.classes):
            raise ConfigError(f"classes: repeated class names in {self.classes}")
        if not self.streams:
            raise ConfigError("streams: a model needs at least one input stream")
        names = [s.name for s in self.streams]
        if len(set(names)) != len(names):
            raise ConfigError(f"streams: repeated stream names in {names}")
        if self.dim % self.heads:
            raise ConfigError(f"dim: {self.dim} must be a multiple of heads ({self.heads})")
        if self.kind == "hybrid" and self.fusion_layers > self.layers:
            raise ConfigError(f"fusion_layers: {self.fusion_layers} is more than layers ({self.layers})")

    @property
    def modalities(self) -> list[str]:
        """The modalities the streams come from, in the fixed order video, audio, text."""
        present = {s.modality for s in self.streams}
        return [m for m in MODALITIES if m in present]

    def streams_of(self, modality: str) -> list[StreamSpec]:
        return [s for s in self.streams if s.modality == modality]

    def summary_keys(self) -> dict[str, list[str]]:
        """Per encoder, the keys of its summary stream."""
        return {s.name.rsplit(".", 1)[0]: list(s.keys) for s in self.streams if s.name.endswith(".summary")}

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ModelConfig":
        if not isinstance(data, dict):
            raise ConfigError(f"model config: expected a mapping, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ConfigError(f"model config: unknown key {sorted(unknown)[0]!r}; known: {', '.join(sorted(known))}")
        return cls(**data)


def _stream(data: Any) -> StreamSpec:
    if not isinstance(data, dict):
        raise ConfigError(f"streams: expected a mapping with name, modality, dim, got {data!r}")
    unknown = set(data) - {"name", "modality", "dim", "keys"}
    if unknown:
        raise ConfigError(f"streams: unknown key {sorted(unknown)[0]!r}; known: dim, keys, modality, name")
    return StreamSpec(**data)


@dataclass(frozen=True)
class TrainConfig(Section):
    """How a model is trained. ``aux_weight`` weighs the auxiliary unimodal losses (one per
    modality head; late and hybrid models), the remedy for modality imbalance (a strong modality
    no longer starves the other of gradient); 0 turns it off. ``patience``: epochs without a better
    validation loss before stopping early. ``calibrate``: fit a temperature on the validation set."""

    epochs: int = bounded(60, 1, 10000)
    batch_size: int = bounded(64, 1, 65536)
    lr: float = bounded(2e-3, 0.0, 10.0, lo_open=True)
    weight_decay: float = bounded(1e-4, 0.0, 10.0)
    aux_weight: float = bounded(0.5, 0.0, 100.0)
    patience: int = bounded(10, 1, 10000)
    calibrate: bool = True
    seed: int = bounded(0, 0, 2**31 - 1)
