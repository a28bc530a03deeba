"""Configuration of archive batches (``streamfuse analyze`` over many inputs).

Keys live under ``archive.`` (``--set archive.max_bytes=50e9``). Config keys are public API.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Section, bounded


@dataclass(frozen=True)
class ArchiveConfig(Section):
    """Retention: after each batch the oldest results (by the time they were committed) are removed
    until the results, their report pages and the index together take at most ``max_bytes``, and
    every result older than ``max_age_days`` is removed; 0 turns a bound off. Results committed by
    the batch itself are never removed. A removed input is analysed again if a later batch names it."""

    max_bytes: int = bounded(0, 0, None, doc="bytes OUT's results and index may take; 0: no bound")
    max_age_days: float = bounded(0.0, 0.0, None, doc="days a result is kept; 0: no bound")
