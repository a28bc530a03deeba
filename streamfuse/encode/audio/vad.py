"""Speech activity with the bundled silero VAD, streamed across overlapping windows."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...errors import ConfigError
from ...spec import FLAG, SCORE, EventKind, ModelInfo, Resources, StageSection, StageSpec, data
from ...timebase import SAMPLE_RATE, seconds_to_samples
from ..base import BaseEncoder, Detection, Features
from ..streams import StreamTracker
from ._feed import BlockFeed
from ._silero import CHUNK, SileroStream, package_data


@dataclass(frozen=True)
class VadConfig(StageSection):
    """Speech activity with the bundled silero VAD (hysteresis as in silero's ``VADIterator``)."""

    threshold: float = bounded(0.5, 0.0, 1.0, lo_open=True, doc="speech probability that starts speech")
    neg_threshold: float | None = bounded(None, 0.0, 1.0, doc="probability below which speech may end; "
                                          "default threshold - 0.15 (silero's rule)")
    min_speech: float = bounded(0.1, 0.0, 10.0, doc="seconds; shorter speech runs are ignored")
    min_silence: float = bounded(0.3, 0.0, 10.0, doc="seconds of silence that end a speech segment")

    def check(self) -> None:
        if self.neg_threshold is not None and self.neg_threshold > self.threshold:
            raise ConfigError(f"neg_threshold: {self.neg_threshold} is above threshold {self.threshold}; "
                              "set it lower or leave it unset")

    @property
    def speech_end_threshold(self) -> float:
        """The probability below which a speech run may end."""
        if self.neg_threshold is not None:
            return self.neg_threshold
        return max(self.threshold - 0.15, 0.01)


class SpeechRuns:
    """Final speech/non-speech decisions for consecutive chunks, from their probabilities.

    The rules are silero's: speech starts at a chunk with probability ``>= threshold`` and continues
    until ``min_silence`` of chunks below ``neg_threshold`` (chunks in between keep the current state);
    the silence inside a continuing run counts as speech, and runs shorter than ``min_speech`` are
    dropped. A chunk that was not given to the model (mostly missing audio) ends any run at once.

    Decisions come out in chunk order and are never revised. Deciding needs at most
    ``min_speech + min_silence`` of look-ahead; :meth:`force` decides earlier when a caller cannot
    wait, by keeping the open run going up to that point (a hang-over).
    """

    def __init__(self, threshold: float, neg_threshold: float, min_speech_chunks: int,
                 min_silence_chunks: int, first: int = 0) -> None:
        self.threshold, self.neg_threshold = threshold, neg_threshold
        self.min_speech, self.min_silence = max(min_speech_chunks, 1), max(min_silence_chunks, 1)
        self.next = first     # index of the next chunk to come
        self.decided = first  # chunks before this are decided
        self._triggered = False
        self._run: list[int] | None = None  # [start, end) of the open run's speech chunks
        self._committed = False             # the open run is long enough to keep

    def push(self, prob: float, fed: bool) -> list[bool]:
        """Add the next chunk; returns the decisions this makes final (for ``decided`` on)."""
        c = self.next
        self.next += 1
        out: list[bool] = []
        if not fed:
            self._triggered = False
            out += self._close(at=c)
            out.append(False)
            self.decided = self.next
            return out
        if prob >= self.threshold:
            self._triggered = True
        elif prob < self.neg_threshold:
            self._triggered = False
        run = self._run
        if self._triggered:
            if run is None:
                run = self._run = [c, c + 1]
                self._committed = False
            run[1] = c + 1
            if run[1] - run[0] >= self.min_speech:
                self._committed = True
            if self._committed:
                out += [True] * (run[1] - self.decided)
                self.decided = run[1]
        elif run is None:
            out.append(False)
            self.decided = self.next
        elif self.next - run[1] >= self.min_silence:
            out += self._close(at=self.next)
        return out

    def force(self, upto: int) -> list[bool]:
        """Decide every chunk before ``upto`` now (``upto <= next``), keeping the open run as speech."""
        upto = min(upto, self.next)
        if self.decided >= upto or self._run is None:
            return []
        self._committed = True
        self._run[1] = max(self._run[1], upto)
        out = [True] * (self._run[1] - self.decided)
        self.decided = self._run[1]
        return out

    def finish(self) -> list[bool]:
        """End of stream: decide everything."""
        return self._close(at=self.next)

    def _close(self, at: int) -> list[bool]:
        """Close the open run; decide every chunk before ``at``."""
        out: list[bool] = []
        run = self._run
        if run is not None:
            keep = self._committed or run[1] - run[0] >= self.min_speech
            out += [keep] * (run[1] - self.decided)
            self.decided = run[1]
            self._run = None
        out += [False] * (at - self.decided)
        self.decided = max(self.decided, at)
        return out


class VadEncoder(BaseEncoder):
    """Speech activity: per window the fraction of real audio that is speech, and the speech runs.

    Each 512-sample chunk (32 ms, on the absolute grid ``[k * 512, (k + 1) * 512)``) is computed
    once, in order, with silero's state carried across windows; its probability and decision are
    kept while a later window can still contain it (from the newest window's start on) and dropped
    after, so memory stays flat. Decisions follow :class:`SpeechRuns` and are final when made, so a
    chunk gets the same answer in every window that holds it. Every chunk of a window's own span
    ``[start, own_end)`` is decided before the window returns; the rest of the window is decided
    as far as its look-ahead allows, and the final window decides everything.

    Detections: ``kind="speech"``, one per contiguous speech run inside the window's own span
    (``[start, end)`` for the final window), so consecutive windows report abutting pieces of a long
    run, each chunk exactly once and never two pieces with the same start (fusion de-duplicates by
    kind and start, then joins pieces by time). ``confidence`` is the piece's mean probability;
    ``evidence`` is ``{"max_prob": ..., "continues": ...}``, ``continues`` meaning the run goes on
    past the piece's end (or is not decided there yet). Summary over the decided part of the whole
    window: ``speech_ratio`` (speech fraction of its real audio; ``None`` with no real audio),
    ``speech`` (``speech_ratio > 0``), ``decided`` (media seconds up to which this window's speech
    decisions are final) and ``speech_spans`` (the speech ``[start, end)`` seconds of that decided
    part): the rule fuser checks sounds against them as soon as they are decided, not a window
    later. Missing samples are never speech; a chunk more than half missing is not given to the
    model, and the model restarts after it.
    """

    spec = StageSpec(
        key="vad", config=VadConfig, modality="audio",
        kinds=(EventKind("speech", "durative", ("audio",), data(max_prob=SCORE, continues=FLAG), gap="speech_gap",
                         doc="someone speaking"),),
        flush=True,
        models=lambda section: [ModelInfo("vad", "silero VAD (silero-vad package)", package_data(),
                                          package_data() is not None, how="pip install silero-vad==6.2.3")],
        resources=Resources(cpus=0.5),
    )

    def __init__(self, config: VadConfig | None = None) -> None:
        import torch

        torch.set_num_threads(1)
        self.config = config or VadConfig()
        self._model = SileroStream()
        self._feed = BlockFeed(CHUNK)
        self._streams = StreamTracker()
        self._reset(0)

    def _reset(self, at: int) -> None:
        cfg = self.config
        self._model.reset()
        self._feed.reset(at)
        self._base = at // CHUNK               # chunk index of the oldest kept chunk
        self._probs: deque[float] = deque()    # computed chunks, from _base
        self._speech: deque[bool] = deque()    # decided chunks, from _base
        self._after_gap = True
        self._runs = SpeechRuns(cfg.threshold, cfg.speech_end_threshold,
                                -(-seconds_to_samples(cfg.min_speech) // CHUNK),
                                -(-seconds_to_samples(cfg.min_silence) // CHUNK), first=self._base)

    def cached(self) -> int:
        """How many per-chunk results are held now (flat over a stream: about one window's worth)."""
        return len(self._probs)

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
            self._compute(b.samples, b.real)
        limit = clip.end if window.final else min(seconds_to_samples(window.own_end), clip.end)
        if window.final:
            self._speech.extend(self._runs.finish())
        else:
            self._speech.extend(self._runs.force(-(-limit // CHUNK)))
        self._drop_before(clip.start // CHUNK)
        return self._report(clip.start, clip.end, clip.valid_mask(), limit, window.final)

    def _compute(self, chunks: np.ndarray, real: np.ndarray) -> None:
        fed = real * 2 >= CHUNK
        probs = np.zeros(len(chunks))
        i = 0
        while i < len(chunks):  # model runs over each stretch of fed chunks
            j = i
            while j < len(chunks) and fed[j] == fed[i]:
                j += 1
            if fed[i]:
                if self._after_gap:
                    self._model.reset()
                probs[i:j] = self._model(chunks[i:j])
            self._after_gap = not fed[i]
            i = j
        for p, f in zip(probs.tolist(), fed.tolist()):
            self._probs.append(p)
            self._speech.extend(self._runs.push(p, f))

    def _drop_before(self, chunk: int) -> None:
        while self._base < chunk and self._speech:
            self._probs.popleft()
            self._speech.popleft()
            self._base += 1

    def _state(self, chunk: int) -> bool | None:
        """The decision for ``chunk``; ``None`` when it is not decided (or no longer kept)."""
        i = chunk - self._base
        return self._speech[i] if 0 <= i < len(self._speech) else None

    def _report(self, s0: int, s1: int, valid: np.ndarray, limit: int, final: bool) -> Features:
        """Summary over the decided part of ``[s0, s1)``; speech runs inside ``[s0, limit)``."""
        state = self._state
        first = max(s0 // CHUNK, self._base)
        stop = min(-(-s1 // CHUNK), self._base + len(self._speech))  # decided chunks only
        speech = np.zeros(s1 - s0, dtype=bool)
        detections = []
        c = first
        while c < stop:
            if not state(c):
                c += 1
                continue
            d = c
            while d < stop and state(d):
                d += 1
            a, b = max(c * CHUNK, s0), min(d * CHUNK, s1)
            speech[a - s0:b - s0] = True
            if a < limit:
                b = min(b, limit)
                probs = [self._probs[k - self._base] for k in range(a // CHUNK, -(-b // CHUNK))]
                continues = not final and b == limit and state(limit // CHUNK) is not False
                detections.append(Detection("speech", Fraction(a, SAMPLE_RATE), Fraction(b, SAMPLE_RATE),
                                            confidence=min(max(float(np.mean(probs)), 0.0), 1.0),
                                            evidence={"max_prob": round(max(probs), 4), "continues": continues}))
            c = d
        covered = valid[:max(min(stop * CHUNK, s1) - s0, 0)]
        real = int(covered.sum())
        ratio = round(float((speech[:len(covered)] & covered).sum()) / real, 4) if real else None
        decided = s0 + len(covered)
        # exact times (the window record writes them as seconds)
        summary = {"speech_ratio": ratio, "speech": bool(ratio), "decided": Fraction(decided, SAMPLE_RATE),
                   "speech_spans": [[Fraction(a, SAMPLE_RATE), Fraction(b, SAMPLE_RATE)]
                                    for a, b in _runs(speech[:len(covered)], s0)]}
        return Features(self.name, self.modality, summary=summary,
                        detections=tuple(detections))


def _runs(mask: np.ndarray, offset: int) -> list[tuple[int, int]]:
    """``[a, b)`` sample runs where ``mask`` is True, shifted by ``offset``."""
    if not mask.any():
        return []
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.view(np.int8), [0]))))
    return [(offset + int(edges[i]), offset + int(edges[i + 1])) for i in range(0, len(edges), 2)]
