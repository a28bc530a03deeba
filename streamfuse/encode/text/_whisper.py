"""faster-whisper with a shorter encoder context for short utterances.

Whisper pads every input to a 30 s window and its encoder costs the same for 2 s of speech as for
30 s; on two CPU cores that alone keeps tiny.en under 10x real time on short utterances. CTranslate2
encodes any number of mel frames, so :class:`ContextWhisper` trims the padded window to the
utterance plus silence, never below ``context`` seconds (below about 5 s tiny.en starts to
hallucinate on short clips; 10 s matched the full window on every clip we tried). It overrides only
``WhisperModel.encode``, which faster-whisper 1.2 calls once per 30 s window.
"""

from __future__ import annotations

import math
import threading

import numpy as np
from faster_whisper import WhisperModel
from faster_whisper.transcribe import Segment

from ...timebase import SAMPLE_RATE

_FRAMES_PER_SECOND = 100  # Whisper's mel hop is 10 ms
_FULL_FRAMES = 3000
_TAIL_SECONDS = 1.0  # silence the encoder sees after the speech, so the last word can end


class ContextWhisper(WhisperModel):
    """A :class:`WhisperModel` whose :meth:`transcribe_clip` encodes only as much context as needed."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._frames = _FULL_FRAMES
        self._run_lock = threading.Lock()  # one clip at a time: ``_frames`` belongs to the running call
        # the first call pays about half a second of one-off set-up; pay it here, not on the first utterance
        self.transcribe_clip(np.zeros(SAMPLE_RATE, np.float32), context=5.0, beam_size=1)

    def encode(self, features: np.ndarray):
        return super().encode(features[..., : self._frames])

    def transcribe_clip(self, audio: np.ndarray, *, context: float, beam_size: int) -> list[Segment]:
        """Transcribe one utterance (16 kHz mono float32, at most 30 s) in English, with word times."""
        seconds = len(audio) / SAMPLE_RATE + _TAIL_SECONDS
        frames = min(_FULL_FRAMES, math.ceil(max(seconds, context)) * _FRAMES_PER_SECOND)
        with self._run_lock:
            self._frames = frames
            try:
                segments, _info = self.transcribe(
                    audio, language="en", beam_size=beam_size, word_timestamps=True,
                    condition_on_previous_text=False, vad_filter=False)
                return list(segments)
            finally:
                self._frames = _FULL_FRAMES
