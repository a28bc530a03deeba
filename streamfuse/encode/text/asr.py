"""Speech recognition: faster-whisper on the utterances the speech gate cuts from the stream."""

from __future__ import annotations

import math
import re
import time
from fractions import Fraction

import numpy as np

from ...align.window import Window
from ...config.text import AsrConfig
from ...timebase import SAMPLE_RATE, as_fraction, samples_to_seconds, seconds_to_samples, to_float
from ..base import BaseEncoder, Detection, Features
from .models import load_vad, load_whisper
from .speech_gate import SpeechGate, Utterance

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

    name = "asr"
    modality = "text"

    def __init__(self, config: AsrConfig | None = None) -> None:
        self.config = config or AsrConfig()
        c = self.config
        self._model = load_whisper(c.model, c.compute_type, c.cpu_threads)
        self._gate = self._new_gate()
        # the gate holds at most one utterance of audio
        self.lookback = as_fraction(c.max_utterance)
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
            words = []
            for w in seg.words or ():
                if w.word.strip():
                    ws = media_time(w.start)
                    words.append([to_float(ws), to_float(max(media_time(w.end), ws)), w.word.strip(),
                                  round(float(w.probability), 3)])
            start = media_time(seg.start)
            end = max(media_time(seg.end), start)
            confidence = min(1.0, max(0.0, math.exp(seg.avg_logprob)))
            out.append(Detection("transcript", start, end, confidence, text=text,
                                 evidence={"words": words, "origin": "asr"}))
        return out

    def _new_gate(self) -> SpeechGate:
        c = self.config
        return SpeechGate(load_vad(), threshold=c.vad_threshold, min_silence=c.min_silence, pad=c.speech_pad,
                          min_speech=c.min_speech, max_utterance=c.max_utterance)

    def close(self) -> None:
        """Drop the stream's state (an open utterance is discarded; the final window flushes it)."""
        self._gate = self._new_gate()
