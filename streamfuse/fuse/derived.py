"""Cross-modal evidence: audio-visual events derived where modalities coincide, and sounds during speech.

- ``speaker.visible``: a face or a person visible while speech is heard (their overlap in time).
- A sound heard during speech is part of the speech, not "a loud sound", unless it is louder than
  ``fusion.sound_over_speech_dbfs`` (a shout, a bang over the voice).
"""

from __future__ import annotations

from fractions import Fraction

from ..encode.base import Detection
from ..spec import SCORE, EventKind, data
from ..timebase import as_fraction
from .values import json_safe

SPEAKER_VISIBLE = EventKind(
    "speaker.visible", "durative", ("video", "audio"),
    {"properties": {
        "modalities": {"allOf": [{"contains": {"const": "audio"}}, {"contains": {"const": "video"}}]},
        **data(audio={"type": "object", "properties": {"speech_confidence": SCORE}},
               video={"type": "object"})["properties"]}},
    gap="speech_gap", doc="a face or person visible while speech is heard")

#: a sound this close to speech is taken as part of it
SPEECH_MARGIN = Fraction(1, 4)


def speaker_visible(presence: dict[str, list[Detection]]) -> list[Detection]:
    """Overlaps of speech with a visible face or person."""
    out = []
    visible = presence.get("face", []) + presence.get("person", [])
    for sp in presence.get("speech", []):
        for v in visible:
            a, b = max(sp.start, v.start), min(sp.end, v.end)
            if a < b:
                out.append(Detection("speaker.visible", a, b, min(1.0, sp.confidence * v.confidence) ** 0.5,
                                     evidence={"audio": {"speech_confidence": round(sp.confidence, 3)},
                                               "video": {v.kind: json_safe(v.evidence)}}))
    return out


class SpeechMemory:
    """Recent speech spans, to tell whether a sound was heard during speech.

    Speech comes as ``speech`` detections, and from a speech detector's summary (``decided``: media
    seconds up to which its decisions are final; ``speech_spans``: the decided speech of the window),
    which says a window ahead of its detections whether a moment is speech.
    """

    def __init__(self, keep: Fraction, loud_dbfs: float) -> None:
        self.keep = keep
        self.loud_dbfs = loud_dbfs
        self._spans: list[tuple[Fraction, Fraction]] = []
        self.has_detector = False

    def note_decided(self, features) -> Fraction | None:
        """Take the decided speech of a speech detector's summary; returns how far it is decided."""
        decided = None
        for f in features:
            if "decided" in f.summary and "speech_spans" in f.summary:
                self.has_detector = True
                decided = as_fraction(f.summary["decided"])
                self._spans += [(as_fraction(a), as_fraction(b)) for a, b in f.summary["speech_spans"]]
        return decided

    def note(self, detections: list[Detection], now: Fraction) -> None:
        """Remember the speech among ``detections``; forget speech ending before ``now - keep``."""
        spans = [(d.start, d.end) for d in detections if d.kind == "speech"]
        self._spans = [s for s in self._spans if s[1] > now - self.keep] + spans

    def covers(self, det: Detection) -> bool:
        """True when ``det`` (a sound) lies within speech and is not louder than the limit."""
        level = det.evidence.get("max_dbfs", det.evidence.get("level_dbfs"))
        if isinstance(level, (int, float)) and level >= self.loud_dbfs:
            return False
        a, b = det.start - SPEECH_MARGIN, det.end + SPEECH_MARGIN
        return any(s < b and e > a for s, e in self._spans)
