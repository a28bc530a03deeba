"""The fusion stage of one source: the configured fusers, run in order on every window.

Every fuser named by ``fusion.fusers`` sees every encoder's features of the window; their events
share one numbering (one :class:`~.emit.EventFactory`), their transcripts are joined and their
record parts merged into the window record (:mod:`.records`), beside every encoder's summaries and
the names of the window's embeddings. The stage itself reports damaged spans. When the window is
the stream's last (``final``), every fuser finishes.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Callable, Iterable

import numpy as np

from .. import registry
from ..align.window import Window
from ..config.pipeline import PipelineConfig
from ..encode.base import Detection, Features
from ..events.kinds import DAMAGED
from ..timebase import as_fraction
from .base import Fused, FusionContext
from .dedup import Seen
from .emit import EventFactory
from .records import encoder_embeddings, transcript_text, window_record

#: the record's leading keys; fusers' parts follow them
_HEAD = ("source", "index", "start", "end")


def lookbacks(config: PipelineConfig) -> dict[str, Fraction]:
    """Per event kind, the largest look-back declared by the enabled encoders that emit it."""
    out: dict[str, Fraction] = {}
    for cls, section in registry.enabled(config.encoders):
        seconds = cls.spec.lookback_seconds(section)
        for kind in cls.spec.kinds:
            out[kind.name] = max(out.get(kind.name, Fraction(0)), seconds)
    return out


class FusionStage:
    """Stateful per source: windows must arrive in order. ``finish()`` ends what is open."""

    def __init__(self, config: PipelineConfig, source_id: str, subject: str, *, clock: Callable[[], str] | None = None,
                 embed: Callable[[str], np.ndarray] | None = None, run: str | None = None) -> None:
        self.events = EventFactory(source_id, subject, clock=clock, run=run)
        late = lookbacks(config)
        horizon = max(late.values(), default=Fraction(0)) + as_fraction(config.window.length) + 1
        self.context = FusionContext(source_id, subject, self.events, late, horizon, embed)
        self.fusers = [registry.stage(name, "fusers")(config.fusion, self.context) for name in config.fusion.fusers]
        self._damaged = Seen(horizon)

    @property
    def seq(self) -> int:
        return self.events.seq

    def __call__(self, window: Window, features: Iterable[Features]) -> Fused:
        features = list(features)
        parts = [fuser(window, features) for fuser in self.fusers]
        events = [e for part in parts for e in part.events]
        transcript = [s for part in parts for s in part.transcript]
        for a, b in window.damaged:
            if self._damaged.first_time(("damaged", a, b), a):
                det = Detection("damaged", a, b, 1.0, label="corrupt data skipped")
                events.append(self.events.instant(det, tuple(window.modalities) or DAMAGED.modalities))
        embeddings = encoder_embeddings(features)
        for part in parts:
            embeddings.update(part.embeddings)
        record = self._record(window, features, transcript, parts, embeddings)
        if window.final:
            events.extend(self.finish())
        return Fused(events, record, transcript, embeddings)

    def finish(self) -> list[dict[str, Any]]:
        return [e for fuser in self.fusers for e in fuser.finish()]

    @staticmethod
    def _record(window: Window, features: list[Features], transcript, parts: list[Fused],
                embeddings: dict[str, np.ndarray]) -> dict[str, Any]:
        base = window_record(window, features, transcript_text(window, transcript))
        record = {k: base.pop(k) for k in _HEAD}
        for part in parts:
            record.update(part.record)
        record.update(base)
        if embeddings:
            record["embeddings"] = sorted(embeddings)
        return record
