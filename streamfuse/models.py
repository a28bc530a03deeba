"""``streamfuse models``: which model each stage uses, where it is loaded from, and whether it is
available offline. Looks at files only; loads no weights."""

from __future__ import annotations

import importlib.util
import os
from typing import Any

from .config.pipeline import PipelineConfig


def _package_file(package: str, *parts: str) -> str | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = os.path.join(list(spec.submodule_search_locations)[0], *parts)
    return path if os.path.exists(path) else None


def _vision_rows(config: PipelineConfig) -> list[dict[str, Any]]:
    rows = []
    try:
        import cv2
        cascade = os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml")
        rows.append({"stage": "faces", "model": "OpenCV Haar frontal face cascade", "location": cascade,
                     "available": os.path.isfile(cascade), "enabled": config.encoders.faces.enabled})
        rows.append({"stage": "people", "model": "OpenCV HOG + default people SVM",
                     "location": f"built into opencv {cv2.__version__}",
                     "available": hasattr(cv2, "HOGDescriptor_getDefaultPeopleDetector"),
                     "enabled": config.encoders.people.enabled})
    except ImportError:
        rows.append({"stage": "faces", "model": "OpenCV", "location": None, "available": False, "enabled": True})
    rows.append({"stage": "motion", "model": "frame differencing + content change (no weights)", "location": "-",
                 "available": True, "enabled": config.encoders.motion.enabled})
    return rows


def describe_models(config: PipelineConfig) -> list[dict[str, Any]]:
    rows = _vision_rows(config)
    vad = _package_file("silero_vad", "data")
    rows.append({"stage": "vad", "model": "silero VAD (silero-vad package)", "location": vad,
                 "available": vad is not None, "enabled": config.encoders.vad.enabled})
    rows.append({"stage": "loudness", "model": "RMS / K-weighted loudness (no weights)", "location": "-",
                 "available": True, "enabled": config.encoders.loudness.enabled})
    try:
        from .encode.text.models import describe_models as text_models
        rows.extend(text_models(config))
    except ImportError as exc:
        rows.append({"stage": "asr/text", "model": "unavailable", "location": str(exc), "available": False})
    return rows
