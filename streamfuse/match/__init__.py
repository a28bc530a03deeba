"""Finding moments by words or by example: ``streamfuse match`` and live ``query.match``.

:mod:`.calibrate` turns raw similarity scores into per-query calibrated ones; :mod:`.search` ranks
the windows of result folders against a text or an image."""

from .calibrate import Calibration, RunningCalibrator, calibrate
from .search import Moment, search

__all__ = ["Calibration", "Moment", "RunningCalibrator", "calibrate", "search"]
