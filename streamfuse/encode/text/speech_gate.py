"""Cut a stream of audio samples into utterances, so speech recognition runs only on speech.

:class:`SpeechGate` scores each new 32 ms chunk once with the Silero VAD (the ONNX model bundled with
faster-whisper, whose recurrent state is carried across calls), and buffers an utterance from the
first speech chunk (minus ``pad``) until ``min_silence`` of silence follows it (plus ``pad``) or it
reaches ``max_utterance``; a long utterance is cut at its quietest moment in its second half. All
positions are absolute sample indices at 16 kHz; an utterance is the half-open ``[start, end)``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...timebase import SAMPLE_RATE, seconds_to_samples

CHUNK = 512  # samples the Silero VAD scores at a time (32 ms)
_CONTEXT = 64  # samples of the previous chunk the model sees with each chunk
_HYSTERESIS = 0.15  # once speaking, a chunk this far under the threshold is still not silence (as Silero's VADIterator)
_FLOOR = 10 ** (-70 / 20)  # a chunk whose peak is under -70 dBFS is not speech, whatever the model says
_SMOOTH = 5  # chunks averaged when looking for the quietest moment to cut a long utterance


@dataclass(frozen=True, eq=False)
class Utterance:
    """Samples ``[start, start + len(samples))`` holding ``speech`` samples the VAD called speech."""

    start: int
    samples: np.ndarray
    speech: int

    @property
    def end(self) -> int:
        return self.start + len(self.samples)

    def __repr__(self) -> str:
        return f"Utterance([{self.start}, {self.end}), speech={self.speech})"


class SpeechGate:
    """Streaming VAD and utterance buffer. Feed samples in order with :meth:`push`; end with :meth:`flush`.

    ``vad`` is faster-whisper's ``SileroVADModel`` (its ``session`` is used directly, so every chunk
    is scored exactly once and the recurrent state follows the stream).
    """

    def __init__(self, vad, *, threshold: float = 0.5, min_silence: float = 1.5, pad: float = 0.4,
                 min_speech: float = 0.25, max_utterance: float = 20.0) -> None:
        self._session = vad.session
        self.threshold = threshold
        self.min_silence = seconds_to_samples(min_silence)
        self.pad = seconds_to_samples(pad)
        self.min_speech = seconds_to_samples(min_speech)
        self.max_utterance = seconds_to_samples(max_utterance)
        #: the next absolute sample index :meth:`push` expects (``None`` before the first push)
        self.cursor: int | None = None
        self._buf = np.zeros(0, np.float32)  # samples [_buf_start, cursor)
        self._blocked = np.zeros(0, bool)  # True where a sample may not count as speech
        self._buf_start = 0
        self._scored = 0  # start of the first chunk not yet scored
        self._reset_model()
        self._utt: int | None = None  # start of the open utterance
        self._voice_end = 0  # end of its last voiced chunk
        self._probs: list[tuple[int, float]] = []  # (chunk start, probability) inside the open utterance
        self._floor = 0  # an utterance never starts before the previous one ended

    def _reset_model(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._ctx = np.zeros(_CONTEXT, np.float32)

    def push(self, start: int, samples: np.ndarray, blocked: np.ndarray | None = None) -> list[Utterance]:
        """Take samples ``[start, start + len(samples))``; return the utterances this completed.

        ``blocked`` marks samples that must not count as speech (missing audio, speech that
        subtitles already cover). Samples before :attr:`cursor` are ignored; a jump past it (a gap
        in the stream) ends the open utterance and restarts the VAD.
        """
        out: list[Utterance] = []
        if blocked is None:
            blocked = np.zeros(len(samples), bool)
        if self.cursor is None:
            self._restart(start)
        elif start > self.cursor:
            out += self.flush()
            self._restart(start)
        skip = self.cursor - start
        if skip >= len(samples):
            return out
        samples, blocked = samples[skip:], blocked[skip:]
        self._buf = np.concatenate([self._buf, samples.astype(np.float32, copy=False)])
        self._blocked = np.concatenate([self._blocked, blocked])
        self.cursor += len(samples)
        out += self._score()
        self._trim()
        return out

    def flush(self) -> list[Utterance]:
        """End of stream (or of a stretch before a gap): return the open utterance, if it is one."""
        out: list[Utterance] = []
        if self._utt is not None and self.cursor is not None:
            out += self._close(min(self._voice_end + self.pad, self.cursor))
        self._reset_model()
        return out

    def _restart(self, start: int) -> None:
        self.cursor = self._buf_start = self._scored = self._floor = start
        self._buf = np.zeros(0, np.float32)
        self._blocked = np.zeros(0, bool)
        self._reset_model()

    def _score(self) -> list[Utterance]:
        n = (self.cursor - self._scored) // CHUNK
        if n == 0:
            return []
        at = self._scored - self._buf_start
        x = self._buf[at : at + n * CHUNK].reshape(n, CHUNK)
        context = np.concatenate([self._ctx[None], x[:-1, -_CONTEXT:]], axis=0)
        probs, self._h, self._c = self._session.run(
            None, {"input": np.concatenate([context, x], axis=1), "h": self._h, "c": self._c})
        self._ctx = x[-1, -_CONTEXT:].copy()
        probs = np.asarray(probs, np.float32).reshape(n)
        blocked = self._blocked[at : at + n * CHUNK].reshape(n, CHUNK).mean(axis=1) > 0.5
        quiet = np.abs(x).max(axis=1) < _FLOOR
        probs[blocked | quiet] = 0.0
        out: list[Utterance] = []
        for i, p in enumerate(probs.tolist()):
            out += self._step(self._scored + i * CHUNK, p)
        self._scored += n * CHUNK
        return out

    def _step(self, c0: int, p: float) -> list[Utterance]:
        c1 = c0 + CHUNK
        if self._utt is None:
            if p >= self.threshold:
                self._utt = max(c0 - self.pad, self._floor, self._buf_start)
                self._voice_end = c1
                self._probs = [(c0, p)]
            return []
        self._probs.append((c0, p))
        if p >= self.threshold - _HYSTERESIS:
            self._voice_end = c1
        if c1 - self._voice_end >= self.min_silence:
            return self._close(min(self._voice_end + self.pad, c1))
        if c1 - self._utt >= self.max_utterance:
            return self._close(self._quietest(c1), keep_open=True)
        return []

    def _quietest(self, c1: int) -> int:
        """Where to cut an utterance that grew too long: the middle of its quietest stretch in the second half."""
        half = self._utt + self.max_utterance // 2
        late = [(c, p) for c, p in self._probs if c >= half]
        if not late:
            return c1
        smooth = np.convolve([p for _, p in late], np.ones(_SMOOTH) / _SMOOTH, mode="same")
        i = int(np.argmin(smooth[::-1]))  # the latest of equally quiet chunks
        return late[len(late) - 1 - i][0] + CHUNK // 2

    def _close(self, end: int, keep_open: bool = False) -> list[Utterance]:
        start = self._utt
        speech = CHUNK * sum(1 for c, p in self._probs if c < end and p >= self.threshold)
        samples = self._buf[start - self._buf_start : end - self._buf_start].copy()
        self._floor = end
        if keep_open:
            self._utt = end
            self._probs = [(c, p) for c, p in self._probs if c >= end]
        else:
            self._utt = None
            self._probs = []
        if speech < max(self.min_speech, 1):
            return []
        return [Utterance(start, samples, speech)]

    def _trim(self) -> None:
        keep = self._utt if self._utt is not None else self._scored - self.pad - CHUNK
        keep = max(keep, self._buf_start)
        drop = keep - self._buf_start
        if drop > 0:
            self._buf = self._buf[drop:]
            self._blocked = self._blocked[drop:]
            self._buf_start = keep

    @property
    def open_seconds(self) -> float:
        """Seconds of audio in the open utterance (0 when none is open)."""
        if self._utt is None or self.cursor is None:
            return 0.0
        return (self.cursor - self._utt) / SAMPLE_RATE
