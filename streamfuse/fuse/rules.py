"""The rule-based fuser: evidence-level (late) fusion of every encoder's detections.

Each encoder's timed detections are de-duplicated across overlapping windows (:mod:`.dedup`);
instant detections become one event each; presence detections are joined into durative series per
kind, label and track (:mod:`.tracker`), held open for as long as the kind's encoders may still
report late (their declared look-back); subtitle cues and recognised speech become ``transcript``
events and feed keyword spotting (:mod:`.keywords`); cross-modal events are derived where
modalities coincide, and sounds during speech are taken as speech (:mod:`.derived`). Each window
also gets a description (:mod:`streamfuse.describe`) and, with a sentence model, the embedding of
its description and transcript (``text.window`` in the sidecar).
"""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from typing import Any

from .. import registry
from ..align.window import Window
from ..config.fusion import FusionConfig
from ..decode.payloads import TextSegment
from ..describe.sentences import describe_window
from ..encode.base import Detection, Features
from ..events.kinds import TRANSCRIPT
from ..spec import EventKind, StageSpec, data
from ..timebase import as_fraction
from .base import Fused, FusionContext, Fuser
from .dedup import FreshDetections, Seen, detection_key
from .derived import SPEAKER_VISIBLE, SPEECH_MARGIN, SpeechMemory, speaker_visible
from .keywords import find_phrases, word_index_times
from .records import transcript_text
from .tracker import SeriesTracker

KEYWORD = EventKind("keyword", "instant", ("text",), data(required=("text", "label")),
                    doc="a configured phrase (label) said or shown (text: the transcript it was found in)")
#: a level onset this close to a named impulsive sound is that sound (the tagger places its onset
#: on 5 ms blocks, the level detector on its own blocks)
ONE_SOUND = Fraction(1, 20)
#: how long speech is remembered for the sound-during-speech check, beyond the kinds' look-back
_SPEECH_MEMORY = Fraction(10)


def _speech_blind(encoder: str) -> bool:
    try:
        return registry.stage(encoder).spec.speech_blind
    except Exception:  # noqa: BLE001 - an encoder given directly, not registered: it says nothing
        return False


def _tagger_speech(features: list[Features]) -> float | None:
    """The highest speech score an audio tagger gave the window (its ``speech_score`` summary), a
    cross-check of the speech detector: kept in the speech events' evidence."""
    scores = [f.summary["speech_score"] for f in features
              if f.modality == "audio" and isinstance(f.summary.get("speech_score"), (int, float))]
    return round(max(scores), 4) if scores else None


class RuleFuser(Fuser):
    """Stateful per source: windows must arrive in order. ``finish()`` ends open series."""

    spec = StageSpec(key="rules", config=None, kinds=(TRANSCRIPT, KEYWORD, SPEAKER_VISIBLE),
                     doc="evidence-level fusion: de-duplication, durative series, derived audio-visual "
                         "events, keywords, descriptions")

    def __init__(self, config: FusionConfig, context: FusionContext) -> None:
        super().__init__(config, context)
        self.events = context.events
        self._embed = context.embed
        self._seen = Seen(context.horizon)
        self._blind = Seen(context.horizon)  # keys of sounds from speech-blind encoders (see StageSpec)
        self._blind_labels: set[str | None] = set()  # their labels (a level, not a name: onset, sustained)
        self._fresh = FreshDetections(self._seen, hold=self._undecided)
        self._decided: Fraction | None = None  # speech decisions are final up to here (None: no speech detector)
        self._speech = SpeechMemory(_SPEECH_MEMORY + max(context.lookback.values(), default=Fraction(0)),
                                    config.sound_over_speech_dbfs)
        self._durative = {name: registry.kind(name) for name, declared in registry.event_kinds().items()
                          if any(k.durative for k in declared)}
        self.trackers = {name: self._tracker(name) for name in self._durative}
        self._instants: list[tuple[str, Fraction]] = []  # (kind, start) of instant events reported
        self._level_onsets: list[tuple[Fraction, str]] = []  # (start, event id) of level onsets reported

    # -- public -------------------------------------------------------------------------------

    def __call__(self, window: Window, features: list[Features]) -> Fused:
        events: list[dict[str, Any]] = []
        transcript: list[TextSegment] = []
        presence: dict[str, list[Detection]] = {}
        for f in features:
            if _speech_blind(f.encoder):
                for d in f.detections:
                    if d.kind == "sound":
                        self._blind.add(detection_key(d), d.start)
                        self._blind_labels.add(d.label)
        self._decided = self._speech.note_decided(features)
        fresh = self._fresh(window, (d for f in features for d in f.detections))
        self._speech.note(fresh, window.start)
        heard_as_speech = _tagger_speech(features)
        sounds: list[str] = []
        onsets = [d for d in fresh if d.instant and d.kind == "sound" and detection_key(d) in self._blind]
        fresh = [self._at_onset(d, onsets) if self._named_instant(d) else d for d in fresh]
        named = [d.start for d in fresh if self._named_instant(d)] + [
            t for k, t in self._instants if k.startswith("sound:")]
        for det in fresh:
            if det.kind == "sound" and detection_key(det) in self._blind and self._speech.covers(det):
                continue
            if (det.instant and det.kind == "sound" and detection_key(det) in self._blind
                    and any(abs(t - det.start) <= ONE_SOUND for t in named)):
                continue  # a level onset the tagger named: the same sound, reported once with its name
            if det.kind == "sound" and detection_key(det) not in self._blind and det.label:
                sounds.append(det.label)
            if det.kind == "speech" and heard_as_speech is not None:
                det = replace(det, evidence={**det.evidence, "tagger_speech_score": heard_as_speech})
            if det.kind in self._durative and not det.instant:
                presence.setdefault(det.kind, []).append(det)
            elif det.kind == "transcript":
                seg = det.segment or TextSegment(det.start, det.end, det.text or "", "asr")
                transcript.append(seg)
                events.append(self._instant(det, ("text", "audio") if seg.origin == "asr" else ("text",)))
                events.extend(self._keywords(seg))
            elif det.confidence >= self.config.min_confidence:
                events.append(self._instant(det, self._modalities(det)))
        for seg in window.segments:
            if not self._seen.first_time(("subtitle", seg.start, seg.end, seg.text), seg.start):
                continue
            transcript.append(seg)
            det = Detection("transcript", seg.start, seg.end, 1.0, text=seg.text, evidence={"origin": "subtitle"})
            events.append(self._instant(det, ("text",)))
            events.extend(self._keywords(seg))
        presence["speaker.visible"] = speaker_visible(presence)
        for name in self._durative:
            for det in sorted(presence.get(name, ()), key=lambda d: d.start):
                if det.confidence >= self.config.min_confidence:
                    events.extend(self.events.phases(self.trackers[name].observe(det)))
        for name, tracker in self.trackers.items():
            # series of a kind whose encoders report late stay open for their look-back
            now = window.own_end - self.context.lookback.get(name, Fraction(0))
            events.extend(self.events.phases(tracker.advance(now)))
        text = transcript_text(window, transcript)
        description = describe_window(window, features, text, self._instants_in(window), self._sounds_in(window, sounds))
        fused = Fused(events, {"description": description}, transcript)
        if self._embed is not None:
            content = " ".join(x for x in (description, text) if x)
            fused.embeddings["text.window"] = self._embed(content)
        return fused

    def finish(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for tracker in self.trackers.values():
            out.extend(self.events.phases(tracker.close_all()))
        return out

    # -- helpers --------------------------------------------------------------------------------

    def _undecided(self, det: Detection) -> bool:
        """A speech-blind sound waits until speech is decided around it (a speech detector's
        ``decided``), or for the window that owns it; without a speech detector it need not wait."""
        if detection_key(det) not in self._blind:
            return False
        if not self._speech.has_detector:
            return False
        return self._decided is None or det.end + SPEECH_MARGIN > self._decided

    def _tracker(self, name: str) -> SeriesTracker:
        kind = self._durative[name]
        gap = self.config.speech_gap if kind.gap == "speech_gap" else self.config.gap
        return SeriesTracker(name, kind.modalities, gap=as_fraction(gap),
                             min_duration=as_fraction(self.config.min_duration), id_prefix=self.context.source_id)

    def _modalities(self, det: Detection) -> tuple[str, ...]:
        try:
            return registry.kind(det.kind).modalities
        except KeyError:
            raise ValueError(f"a detection of kind {det.kind!r} that no stage declares; add an EventKind "
                             f"for it to its encoder's spec") from None

    @staticmethod
    def _at_onset(det: Detection, onsets: list[Detection]) -> Detection:
        """A named impulsive sound placed at the level onset of the same sound when that came first
        (a patch that starts inside the sound cannot see where it began)."""
        near = [o for o in onsets if abs(o.start - det.start) <= ONE_SOUND and o.start < det.start]
        if not near:
            return det
        onset = min(near, key=lambda o: o.start)
        return replace(det, start=onset.start, end=onset.start + (det.end - det.start),
                       evidence={**det.evidence, "onset": onset.evidence})

    def _named_instant(self, det: Detection) -> bool:
        return bool(det.instant and det.kind == "sound" and det.label and detection_key(det) not in self._blind)

    def _instant(self, det: Detection, modalities: tuple[str, ...]) -> dict[str, Any]:
        named = det.kind == "sound" and det.label and detection_key(det) not in self._blind
        if named and det.instant:
            det = self._linked(det)
        self._instants.append((f"sound:{det.label}" if named else det.kind, det.start))
        event = self.events.instant(det, modalities)
        if det.kind == "sound" and det.instant and not named:
            self._level_onsets = [(t, i) for t, i in self._level_onsets if t >= det.start - self.context.horizon]
            self._level_onsets.append((det.start, event["data"]["event_id"]))
        return event

    def _linked(self, det: Detection) -> Detection:
        """A named impulsive sound whose level onset was reported already (the tagger reports a patch
        once its 0.96 s of audio are in, the level detector sooner): placed at that onset, and saying
        it is the same sound (``evidence.same_sound_as``: the onset event's id)."""
        near = [(t, i) for t, i in self._level_onsets if abs(t - det.start) <= ONE_SOUND]
        if not near:
            return det
        t, event_id = min(near)
        return replace(det, start=t, end=t + (det.end - det.start), evidence={**det.evidence, "same_sound_as": event_id})

    def _keywords(self, seg: TextSegment) -> list[dict[str, Any]]:
        phrases = self.config.keywords.phrases
        if not phrases:
            return []
        out = []
        times = word_index_times(seg.words) if seg.words else []
        for phrase, i, j in find_phrases(phrases, seg.text, seg.words):
            start, end = (times[i][0], times[j - 1][1]) if times else (seg.start, seg.end)
            if not self._seen.first_time(("keyword", phrase, start), start):
                continue
            det = Detection("keyword", start, end, 1.0, label=phrase, text=seg.text,
                            evidence={"text": {"origin": seg.origin}})
            out.append(self._instant(det, ("text",)))
        return out

    def _sounds_in(self, window: Window, fresh: list[str]) -> list[str]:
        """Labels of the named sounds heard in the window: new ones, and those of open sound series."""
        open_series = [s.label for s in self.trackers["sound"].active() if s.label not in self._blind_labels
                       and s.end > window.start and s.start < window.end] if "sound" in self.trackers else []
        held = [k for k, t in self._instants if k.startswith("sound:") and window.start <= t < window.end]
        return list(dict.fromkeys(fresh + open_series + [k.split(":", 1)[1] for k in held]))

    def _instants_in(self, window: Window) -> set[str]:
        """Kinds of the instant events reported so far (or decided and held for their owner
        window; sounds wait for the speech check) that start inside the window."""
        horizon = self.context.horizon
        self._instants = [(k, t) for k, t in self._instants if t >= window.start - horizon]
        held = [(d.kind, d.start) for d in self._fresh.pending if d.instant and d.kind != "sound"]
        return {k for k, t in self._instants + held if window.start <= t < window.end}
