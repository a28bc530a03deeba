"""Turning stage output into JSON values (the edge where exact times become float seconds)."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from ..timebase import to_float


def json_safe(value: Any) -> Any:
    """``value`` with Fractions as float seconds, numpy scalars as Python numbers, NaN as None."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, Fraction):
        return to_float(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
