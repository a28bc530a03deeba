"""The fusion stage: per-window evidence from every encoder in, events and a window record out.

Fusion here is evidence-level (late) fusion: each encoder's timed detections are de-duplicated
across overlapping windows, instant detections become one event each, presence detections are
joined into durative series (:mod:`streamfuse.fuse.tracker`), and cross-modal events are derived
where modalities coincide in time (``speaker.visible``: a face or person visible while speech is
heard).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

from ..align.window import Window
from ..config.pipeline import FusionConfig
from ..decode.payloads import TextSegment
from ..describe.sentences import describe_window
from ..encode.base import Detection, Features
from ..events.cloudevents import make_event
from ..timebase import as_fraction, to_float
from .keywords import find_phrases, word_index_times
from .tracker import Phase, SeriesTracker

#: presence kinds and the modalities their events cite
PRESENCE = {"face": ("video",), "person": ("video",), "motion": ("video",), "speech": ("audio",),
            "sound": ("audio",), "silence": ("audio",), "speaker.visible": ("video", "audio")}
INSTANT_MODALITY = {"scene.cut": ("video",), "flash": ("video",), "sound": ("audio",),
                    "transcript": ("text",), "keyword": ("text",), "damaged": ("video", "audio")}
#: a sound this close to speech is taken as part of it
_SPEECH_MARGIN = Fraction(1, 4)
#: how long de-duplication keys are kept (late detections, e.g. ASR, may trail by this much)
_DEDUP_HORIZON = Fraction(120)


@dataclass
class FusedWindow:
    """What the fusion stage made of one window."""

    events: list[dict[str, Any]]
    record: dict[str, Any]
    transcript: list[TextSegment]


class FusionStage:
    """Stateful per source: windows must arrive in order. ``finish()`` ends open series."""

    def __init__(self, config: FusionConfig, source_id: str, subject: str, *, clock=None, embed=None,
                 run: str | None = None) -> None:
        self.config = config
        self.source_id = source_id
        self.subject = subject
        self.seq = 0
        self._clock = clock  # callable returning an RFC 3339 string; None = now
        self.run = run  # live runs put a run token into event ids (see make_event)
        self._embed = embed  # text -> unit vector (the runtime passes the configured model), or None
        gap = as_fraction(config.gap)
        min_dur = as_fraction(config.min_duration)
        self.trackers: dict[str, SeriesTracker] = {}
        for kind, mods in PRESENCE.items():
            kind_gap = as_fraction(config.speech_gap) if kind in ("speech", "speaker.visible", "silence") else gap
            self.trackers[kind] = SeriesTracker(kind, mods, gap=kind_gap, min_duration=min_dur, id_prefix=source_id)
        self._seen: OrderedDict[tuple, Fraction] = OrderedDict()
        self._speech: list[tuple[Fraction, Fraction]] = []
        self._pending: list[Detection] = []  # detections that start after the current window's own span
        self._instants: list[tuple[str, Fraction]] = []  # (kind, start) of instant events reported
        self._last_end = Fraction(0)

    # -- public -------------------------------------------------------------------------------

    def __call__(self, window: Window, features: Iterable[Features]) -> FusedWindow:
        features = list(features)
        events: list[dict[str, Any]] = []
        transcript: list[TextSegment] = []
        presence: dict[str, list[Detection]] = {}
        for det in self._fresh_detections(window, features):
            if det.kind in PRESENCE and not det.instant:
                presence.setdefault(det.kind, []).append(det)
            elif det.kind == "transcript":
                seg = _segment_of(det)
                transcript.append(seg)
                events.append(self._instant(det, ("text", "audio") if seg.origin == "asr" else ("text",)))
                events.extend(self._keywords(seg))
            elif det.confidence >= self.config.min_confidence:
                events.append(self._instant(det, INSTANT_MODALITY.get(det.kind, (features[0].modality,) if features else ("video",))))
        for seg in window.segments:
            key = ("subtitle", seg.start, seg.end, seg.text)
            if key in self._seen:
                continue
            self._remember(key, seg.start)
            transcript.append(seg)
            det = Detection("transcript", seg.start, seg.end, 1.0, text=seg.text, evidence={"origin": "subtitle"})
            events.append(self._instant(det, ("text",)))
            events.extend(self._keywords(seg))
        presence["speaker.visible"] = _speaker_visible(presence)
        for kind in PRESENCE:
            for det in sorted(presence.get(kind, ()), key=lambda d: d.start):
                if det.confidence >= self.config.min_confidence:
                    events.extend(self._phases(self.trackers[kind].observe(det)))
        for tracker in self.trackers.values():
            events.extend(self._phases(tracker.advance(window.own_end)))
        for a, b in window.damaged:
            key = ("damaged", a, b)
            if key not in self._seen:
                self._remember(key, a)
                events.append(self._instant(Detection("damaged", a, b, 1.0, label="corrupt data skipped"),
                                            tuple(window.modalities) or ("video",)))
        self._last_end = max(self._last_end, window.end)
        record = self._record(window, features, transcript)
        if window.final:
            events.extend(self.finish())
        return FusedWindow(events, record, transcript)

    def finish(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for tracker in self.trackers.values():
            out.extend(self._phases(tracker.close_all()))
        return out

    # -- helpers --------------------------------------------------------------------------------

    def _remember(self, key: tuple, t: Fraction) -> None:
        self._seen[key] = t
        while self._seen and next(iter(self._seen.values())) < t - _DEDUP_HORIZON:
            self._seen.popitem(last=False)

    def _fresh_detections(self, window: Window, features: list[Features]) -> list[Detection]:
        """Detections no earlier window reported, each taken at its first sight (overlapping
        windows repeat them, and a late detection (a cut decided after look-ahead, an utterance
        recognised once it ended) may arrive windows after its start), keyed by kind, label and
        start time. Sounds wait for the window that owns their start, whose speech decisions are
        complete by then: a sound heard during speech is speech, not "a loud sound", unless louder
        than ``fusion.sound_over_speech_dbfs``."""
        fresh = []
        later = []
        for det in [d for feat in features for d in feat.detections] + self._pending:
            key = (det.kind, det.label, det.start, det.instant)
            if key in self._seen:
                continue
            if det.kind == "sound" and det.start >= window.own_end and not window.final:
                later.append(det)  # the speech check needs its owner window's speech decisions
                continue
            self._remember(key, det.start)
            fresh.append(det)
        # one copy of each held detection (later windows report most of them again)
        self._pending = list({(d.kind, d.label, d.start, d.instant): d for d in later}.values())
        speech = [(d.start, d.end) for d in fresh if d.kind == "speech"]
        self._speech = [s for s in self._speech if s[1] > window.start - 10] + speech
        return [d for d in fresh if not (d.kind == "sound" and self._during_speech(d))]

    def _during_speech(self, det: Detection) -> bool:
        level = det.evidence.get("max_dbfs", det.evidence.get("level_dbfs"))
        if isinstance(level, (int, float)) and level >= self.config.sound_over_speech_dbfs:
            return False
        a, b = det.start - _SPEECH_MARGIN, det.end + _SPEECH_MARGIN
        return any(s < b and e > a for s, e in self._speech)

    def _next_id(self) -> int:
        self.seq += 1
        return self.seq

    def _event(self, type_: str, phase: str, event_id: str, start: Fraction, end: Fraction, confidence: float,
               modalities: Iterable[str], text: str | None = None, label: str | None = None,
               evidence: dict[str, Any] | None = None) -> dict[str, Any]:
        return make_event(source_id=self.source_id, subject=self.subject, type=type_, seq=self._next_id(),
                          phase=phase, event_id=event_id, start=to_float(start), end=to_float(end),
                          confidence=confidence, modalities=modalities, text=text, label=label,
                          evidence=evidence, time=self._clock() if self._clock else None, run=self.run)

    def _instant(self, det: Detection, modalities: Iterable[str]) -> dict[str, Any]:
        self._instants.append((det.kind, det.start))
        event_id = f"{self.source_id}-{det.kind}-e{self.seq + 1}"
        return self._event(det.kind, "instant", event_id, det.start, det.end, det.confidence, modalities,
                           text=det.text, label=det.label, evidence=_json_safe(det.evidence))

    def _phases(self, phases: list[Phase]) -> list[dict[str, Any]]:
        out = []
        for p in phases:
            s = p.series
            out.append(self._event(s.kind, p.phase, s.event_id, p.start, p.end, p.confidence, s.modalities,
                                   label=s.label, evidence=_json_safe(s.evidence)))
        return out

    def _keywords(self, seg: TextSegment) -> list[dict[str, Any]]:
        phrases = self.config.keywords.phrases
        if not phrases:
            return []
        out = []
        times = word_index_times(seg.words) if seg.words else []
        for phrase, i, j in find_phrases(phrases, seg.text, seg.words):
            start, end = (times[i][0], times[j - 1][1]) if times else (seg.start, seg.end)
            det = Detection("keyword", start, end, 1.0, label=phrase, text=seg.text,
                            evidence={"text": {"origin": seg.origin}})
            key = ("keyword", phrase, start)
            if key in self._seen:
                continue
            self._remember(key, start)
            out.append(self._instant(det, ("text",)))
        return out

    def _instants_in(self, window: Window) -> set[str]:
        """Kinds of the instant events reported so far (or decided and held for their owner
        window; sounds wait for the speech check) that start inside the window."""
        self._instants = [(k, t) for k, t in self._instants if t >= window.start - _DEDUP_HORIZON]
        held = [(d.kind, d.start) for d in self._pending if d.instant and d.kind != "sound"]  # decided, not yet owned
        return {k for k, t in self._instants + held if window.start <= t < window.end}

    def _record(self, window: Window, features: list[Features], transcript: list[TextSegment]) -> dict[str, Any]:
        summaries: dict[str, dict[str, Any]] = {"video": {}, "audio": {}, "text": {}}
        for f in features:
            summaries[f.modality][f.encoder] = _json_safe(f.summary)
        words = [s.text for s in window.segments]
        words += [s.text for s in transcript if s.origin == "asr"]
        text = " ".join(dict.fromkeys(words))
        record = {
            "source": self.source_id, "index": window.index,
            "start": to_float(window.start), "end": to_float(window.end),
            "description": describe_window(window, features, text, self._instants_in(window)),
            "modalities": window.modalities,
            "video": summaries["video"], "audio": summaries["audio"],
            "text": {"transcript": text, **summaries["text"]},
        }
        if self._embed is not None:
            content = " ".join(x for x in (record["description"], text) if x)
            record["text"]["embedding"] = [round(float(v), 5) for v in self._embed(content)]
        if window.damaged:
            record["damaged"] = [[to_float(a), to_float(b)] for a, b in window.damaged]
        return record


def _segment_of(det: Detection) -> TextSegment:
    words = tuple((as_fraction(w[0]), as_fraction(w[1]), str(w[2])) for w in det.evidence.get("words", ()))
    origin = det.evidence.get("origin", "asr")
    return TextSegment(det.start, det.end, det.text or "", "subtitle" if origin == "subtitle" else "asr", words)


def _speaker_visible(presence: dict[str, list[Detection]]) -> list[Detection]:
    """Overlaps of speech with a visible face or person."""
    out = []
    visible = presence.get("face", []) + presence.get("person", [])
    for sp in presence.get("speech", []):
        for v in visible:
            a, b = max(sp.start, v.start), min(sp.end, v.end)
            if a < b:
                out.append(Detection("speaker.visible", a, b, min(1.0, sp.confidence * v.confidence) ** 0.5,
                                     evidence={"audio": {"speech_confidence": round(sp.confidence, 3)},
                                               "video": {v.kind: _json_safe(v.evidence)}}))
    return out


def _json_safe(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, Fraction):
        return to_float(value)
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return value.item()
    if isinstance(value, float) and value != value:
        return None
    return value
