"""Loudness, onsets of loud impulsive sounds, sustained sounds and silence, streamed across windows."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from ...align.window import Window
from ...config.base import bounded
from ...spec import FLAG, NUMBER, EventKind, ModelInfo, Resources, StageSection, StageSpec, data
from ...timebase import SAMPLE_RATE, seconds_to_samples
from ..base import BaseEncoder, Detection, Features
from ..streams import StreamTracker
from ._feed import Blocks, BlockFeed
from ._kweight import FLOOR_DB, k_weighting_sos, lufs, power_db


@dataclass(frozen=True)
class LoudnessConfig(StageSection):
    """Loudness (dBFS, LUFS-style), onsets of loud impulsive sounds, sustained sounds, silence."""

    silence_dbfs: float = bounded(-60.0, -120.0, 0.0, doc="below this level a stretch is silence")
    silence_min: float = bounded(1.0, 0.05, 3600.0, doc="seconds below the silence level that make a silence span")
    onset_db: float = bounded(12.0, 1.0, 60.0, doc="rise within 10 ms, over the level before and over the "
                              "recent background, that makes an onset")
    loud_dbfs: float = bounded(-30.0, -120.0, 0.0, doc="an onset must reach this level; a sustained sound "
                               "stays above it")
    sustained_min: float = bounded(0.5, 0.05, 60.0, doc="seconds above the loud level that make a sustained sound")


TICK = 40                 # samples (2.5 ms): the hop of the 10 ms level the onset detector follows
FRAME_TICKS = 4           # a 10 ms frame: silence and sustained sounds are judged per frame
FRAME = TICK * FRAME_TICKS
_BACKGROUND_TICKS = 400   # 1 s of levels behind the background estimate
_BACKGROUND_PERCENTILE = 10  # the level exceeded 90% of the time (acousticians' L90)
_REFRACTORY_TICKS = 20    # 50 ms: one onset per attack
_TIMING_TICKS = 8         # an onset is timed within the 20 ms before the tick that detects it
_ENVELOPE = 16            # 1 ms mean square used to time an onset...
_TIMING_BELOW_DB = 20.0   # ...where it crosses halfway from the background, or 20 dB below the level
_BRIDGE_FRAMES = 3        # dips of up to 30 ms do not end a sustained sound
_MOMENTARY_TICKS = 160    # EBU R128 momentary loudness: 400 ms blocks...
_MOMENTARY_STEP = 40      # ...every 100 ms
_FULL_SCALE = 0.999       # a sample this close to full scale (0.01 dB) counts as clipped


def _round(db: float | None) -> float | None:
    return None if db is None else round(db, 2) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass
class _Run:
    """A stretch of 10 ms frames ``[start, end)`` that meet a condition, with level statistics."""

    start: int
    end: int
    power: float   # sum of the frames' mean squares
    frames: int
    loudest: float
    quietest: float
    reported: int = -1  # frames before this have been reported (set to start when the run opens)
    closed: bool = False

    def add(self, frame: int, level: float) -> None:
        self.end = frame + 1
        self.power += 10.0 ** (level / 10.0)
        self.frames += 1
        self.loudest, self.quietest = max(self.loudest, level), min(self.quietest, level)


class _RunTracker:
    """Runs of frames meeting a condition, at least ``min_frames`` long; gaps up to ``bridge`` frames join."""

    def __init__(self, min_frames: int, bridge: int = 0) -> None:
        self.min_frames, self.bridge = max(min_frames, 1), bridge
        self.open: _Run | None = None

    def push(self, frame: int, hit: bool | None, level: float) -> _Run | None:
        """Add a frame (``hit=None``: missing audio, which ends a run); returns a run it closed."""
        run = self.open
        if hit:
            if run is None:
                self.open = _Run(frame, frame + 1, 0.0, 0, level, level, reported=frame)
            self.open.add(frame, level)  # type: ignore[union-attr]
            return None
        if run is not None and (hit is None or frame - run.end >= self.bridge):
            return self.close()
        return None

    def close(self) -> _Run | None:
        run, self.open = self.open, None
        if run is None or run.end - run.start < self.min_frames:
            return None
        run.closed = True
        return run

    @property
    def confirmed(self) -> _Run | None:
        run = self.open
        return run if run is not None and run.end - run.start >= self.min_frames else None


class LoudnessEncoder(BaseEncoder):
    """Levels per window, and timed sound onsets, sustained sounds and silences.

    Summary: ``dbfs`` (RMS level of the window's real samples), ``peak_dbfs``, ``lufs`` (K-weighted
    loudness of the window, BS.1770 / EBU R128 filters, ungated), ``lufs_max`` (the loudest 400 ms
    EBU momentary block in the window, blocks every 100 ms), ``clipped`` (fraction of real samples
    within 0.01 dB of full scale or beyond) and ``silence`` (``dbfs`` below ``silence_dbfs``). Levels
    have a floor of :data:`FLOOR_DB` (-120): digital silence reads -120, never -inf or NaN. With no
    real audio in the window, the levels and ``silence`` are ``None``.

    Detections, each computed once as the samples first arrive:

    - ``kind="sound", label="onset"``, ``instant``: the 10 ms level (hop 2.5 ms) rose by ``onset_db``
      within 10 ms, stands ``onset_db`` above the background (the level exceeded 90% of the last
      second) and reaches ``loud_dbfs``. Timed to the sample where a 1 ms envelope crosses halfway (in
      dB) from the background to that level, or 20 dB below it if that is higher. Before the start of
      the stream and in missing audio there is no background: a sound there counts as rising from
      -120. Reported, identical, by every window that holds its time (fusion de-duplicates by kind
      and start); one in the last few ms of a window may only be found by the next window.
    - ``kind="sound", label="sustained"``: 10 ms frames at or above ``loud_dbfs`` (dips up to 30 ms
      bridged) for at least ``sustained_min``; normal-level speech counts too.
    - ``kind="silence"``: frames below ``silence_dbfs`` for at least ``silence_min``.

    The durative ones are reported in pieces, each part of a run once: a window reports the part
    of each confirmed run inside its own span ``[start, own_end)`` (everything, for the final window)
    not reported before, so a run confirmed late starts before the window. Consecutive pieces abut
    and never share a start, and fusion joins them by time. ``evidence`` holds the run's levels so
    far and ``ongoing`` (the run goes on past this piece, or may). Missing audio is neither sound
    nor silence and ends any run.
    """

    spec = StageSpec(
        key="loudness", config=LoudnessConfig, modality="audio",
        kinds=(
            EventKind("sound", "both", ("audio",),
                      data(level_dbfs=NUMBER, rise_db=NUMBER, background_dbfs=NUMBER, mean_dbfs=NUMBER,
                           max_dbfs=NUMBER, ongoing=FLAG),
                      describe="a sudden loud sound",
                      doc="a loud onset (instant, label onset) or a sustained loud sound (durative)"),
            EventKind("silence", "durative", ("audio",), data(mean_dbfs=NUMBER, max_dbfs=NUMBER, ongoing=FLAG),
                      gap="speech_gap", doc="a stretch below the silence level"),
        ),
        flush=True, speech_blind=True,
        models=lambda section: [ModelInfo("loudness", "RMS / K-weighted loudness (no weights)", "-", True,
                                          kind="builtin")],
        resources=Resources(cpus=0.25),
    )

    def __init__(self, config: LoudnessConfig | None = None) -> None:
        self.config = config or LoudnessConfig()
        from scipy.signal import sosfilt, sosfilt_zi  # here, not at the top: scipy.signal costs seconds to import

        self._sosfilt, self._sosfilt_zi = sosfilt, sosfilt_zi
        self._sos = k_weighting_sos(SAMPLE_RATE)
        self._feed = BlockFeed(TICK)
        self._streams = StreamTracker()
        self._reset(0)

    def _reset(self, at: int) -> None:
        cfg = self.config
        self._feed.reset(at)
        self._zi = self._sosfilt_zi(self._sos) * 0.0
        self._base = at // TICK                       # tick index of _kw[0]
        self._kw = np.zeros(0)                        # per tick: K-weighted sum of squares, from _base
        self._real = np.zeros(0, dtype=np.int64)      # per tick: real samples, from _base
        self._tail_energy = np.zeros(FRAME_TICKS - 1)  # the 3 ticks before the next one
        self._tail_real = np.zeros(FRAME_TICKS - 1, dtype=np.int64)
        self._levels = np.full(_BACKGROUND_TICKS, np.nan)  # 10 ms levels of the last second (NaN: none)
        self._raw = np.zeros(_TIMING_TICKS * TICK)    # the last samples, to time an onset
        self._last_onset = -_REFRACTORY_TICKS
        self._onsets: deque[tuple[int, Detection]] = deque()
        self._closed: deque[tuple[_RunTracker, _Run]] = deque()  # closed runs not fully reported yet
        self._silence = _RunTracker(round(seconds_to_samples(cfg.silence_min) / FRAME))
        self._loud = _RunTracker(round(seconds_to_samples(cfg.sustained_min) / FRAME), _BRIDGE_FRAMES)

    def cached(self) -> int:
        """How many per-tick results and detections are held now (flat over a stream)."""
        return len(self._kw) + len(self._onsets) + len(self._closed)

    def __call__(self, window: Window) -> Features:
        clip = window.audio
        if clip is None:
            return self.empty()
        if self._streams.is_new(window):
            self._reset(clip.start)
        self._process(self._feed.push(clip))
        if window.final:
            self._process(self._feed.flush())
            for tracker in (self._silence, self._loud):
                self._finish(tracker, tracker.close())
        self._drop_before(clip.start)
        limit = None if window.final else min(seconds_to_samples(window.own_end), clip.end)
        return Features(self.name, self.modality, summary=self._summary(clip.start, clip.samples, clip.valid_mask()),
                        detections=self._detections(clip.start, clip.end, limit))

    # -- computed once per sample ------------------------------------------------------------------

    def _process(self, blocks: Blocks) -> None:
        n = len(blocks)
        if not n:
            return
        x = blocks.samples.astype(np.float64)
        weighted, self._zi = self._sosfilt(self._sos, x.reshape(-1), zi=self._zi)
        self._kw = np.concatenate([self._kw, (weighted.reshape(n, TICK) ** 2).sum(axis=1)])
        self._real = np.concatenate([self._real, blocks.real])

        energy = np.concatenate([self._tail_energy, (x ** 2).sum(axis=1)])
        real = np.concatenate([self._tail_real, blocks.real])
        self._tail_energy, self._tail_real = energy[-(FRAME_TICKS - 1):], real[-(FRAME_TICKS - 1):]
        window_energy = sum(energy[i:i + n] for i in range(FRAME_TICKS))
        window_real = sum(real[i:i + n] for i in range(FRAME_TICKS))
        with np.errstate(invalid="ignore", divide="ignore"):
            level = np.where(window_real * 2 >= FRAME, power_db(window_energy / np.maximum(window_real, 1)), np.nan)

        history = np.concatenate([self._levels, level])
        raw = np.concatenate([self._raw, x.reshape(-1)])
        raw_start = blocks.first * TICK - len(self._raw)  # absolute index of raw[0]
        self._find_onsets(blocks.first, level, history, raw, raw_start)
        self._levels, self._raw = history[-_BACKGROUND_TICKS:], raw[-len(self._raw):]

        cfg = self.config
        for k in np.flatnonzero((blocks.first + np.arange(n) + 1) % FRAME_TICKS == 0).tolist():
            frame, value = (blocks.first + k) // FRAME_TICKS, float(level[k])
            missing = np.isnan(value)
            self._finish(self._silence, self._silence.push(frame, None if missing else value < cfg.silence_dbfs, value))
            self._finish(self._loud, self._loud.push(frame, None if missing else value >= cfg.loud_dbfs, value))

    def _find_onsets(self, first: int, level: np.ndarray, history: np.ndarray, raw: np.ndarray,
                     raw_start: int) -> None:
        cfg = self.config
        offset = len(history) - len(level)
        before = np.nan_to_num(history[offset - FRAME_TICKS:len(history) - FRAME_TICKS], nan=FLOOR_DB)
        with np.errstate(invalid="ignore"):
            candidates = np.flatnonzero((level >= cfg.loud_dbfs) & (level - before >= cfg.onset_db))
        for k in candidates.tolist():
            tick = first + k
            if tick - self._last_onset < _REFRACTORY_TICKS:
                continue
            past = history[offset + k - _BACKGROUND_TICKS:offset + k - FRAME_TICKS]
            past = past[~np.isnan(past)]
            background = float(np.percentile(past, _BACKGROUND_PERCENTILE)) if len(past) else FLOOR_DB
            rise = float(level[k]) - background
            if rise < cfg.onset_db:
                continue
            self._last_onset = tick
            threshold = max(background + rise / 2, float(level[k]) - _TIMING_BELOW_DB)
            sample = self._onset_sample(tick, threshold, raw, raw_start)
            confidence = 0.5 + 0.5 * min(max((rise - cfg.onset_db) / cfg.onset_db, 0.0), 1.0)
            t = Fraction(sample, SAMPLE_RATE)
            self._onsets.append((sample, Detection(
                "sound", t, t, confidence, label="onset", instant=True,
                evidence={"level_dbfs": round(float(level[k]), 2), "background_dbfs": round(background, 2),
                          "rise_db": round(rise, 2)})))

    @staticmethod
    def _onset_sample(tick: int, threshold_db: float, raw: np.ndarray, raw_start: int) -> int:
        """First sample in the 20 ms up to ``tick``'s end where the 1 ms mean square crosses ``threshold_db``."""
        stop = (tick + 1) * TICK - raw_start
        lo = max(stop - _TIMING_TICKS * TICK, 0)
        seg = raw[max(lo - _ENVELOPE + 1, 0):stop]
        sums = np.cumsum(np.concatenate([[0.0], seg ** 2]))
        ends = np.arange(lo - max(lo - _ENVELOPE + 1, 0), len(seg))  # positions in seg, from lo
        starts = np.maximum(ends - _ENVELOPE + 1, 0)
        envelope = power_db((sums[ends + 1] - sums[starts]) / _ENVELOPE)
        above = np.flatnonzero(envelope >= threshold_db)
        return raw_start + lo + (int(above[0]) if len(above) else 0)

    def _finish(self, tracker: _RunTracker, run: _Run | None) -> None:
        if run is not None:
            self._closed.append((tracker, run))

    def _piece(self, tracker: _RunTracker, run: _Run, limit: int | None) -> Detection | None:
        """The part of ``run`` not reported yet, up to the frame holding sample ``limit``."""
        lo, hi = run.reported, run.end if limit is None else min(run.end, -(-limit // FRAME))
        if hi <= lo:
            return None
        run.reported = hi
        cfg = self.config
        start, end = Fraction(lo * FRAME, SAMPLE_RATE), Fraction(hi * FRAME, SAMPLE_RATE)
        ongoing = not run.closed or hi < run.end
        mean = float(power_db(run.power / run.frames))
        if tracker is self._silence:
            margin = (cfg.silence_dbfs - run.loudest) / 20.0
            return Detection("silence", start, end, 0.5 + 0.5 * min(max(margin, 0.0), 1.0),
                             evidence={"mean_dbfs": round(mean, 2), "max_dbfs": round(run.loudest, 2),
                                       "ongoing": ongoing})
        margin = (mean - cfg.loud_dbfs) / 20.0
        return Detection("sound", start, end, 0.5 + 0.5 * min(max(margin, 0.0), 1.0), label="sustained",
                         evidence={"mean_dbfs": round(mean, 2), "max_dbfs": round(run.loudest, 2),
                                   "ongoing": ongoing})

    def _drop_before(self, sample: int) -> None:
        drop = min(max(sample // TICK - self._base, 0), len(self._kw))
        self._kw, self._real, self._base = self._kw[drop:], self._real[drop:], self._base + drop
        while self._onsets and self._onsets[0][0] < sample:
            self._onsets.popleft()

    # -- reported per window -----------------------------------------------------------------------

    def _summary(self, s0: int, samples: np.ndarray, valid: np.ndarray) -> dict:
        real = samples[valid].astype(np.float64)
        if not len(real):
            return {"dbfs": None, "peak_dbfs": None, "lufs": None, "lufs_max": None, "clipped": None,
                    "silence": None}
        dbfs = float(power_db(np.mean(real ** 2)))
        peak = float(np.max(np.abs(real)))
        lo = max(s0 // TICK - self._base, 0)
        kw, count = self._kw[lo:lo + len(samples) // TICK], self._real[lo:lo + len(samples) // TICK]
        loud = float(lufs(kw.sum() / count.sum())) if count.sum() else None
        loudest = None
        if count.sum():
            blocks = [slice(i, i + _MOMENTARY_TICKS)
                      for i in range(0, max(len(kw) - _MOMENTARY_TICKS, 0) + 1, _MOMENTARY_STEP)]
            loudest = max(float(lufs(kw[b].sum() / count[b].sum())) for b in blocks if count[b].sum())
        return {"dbfs": _round(dbfs), "peak_dbfs": _round(float(power_db(peak * peak))),
                "lufs": _round(loud), "lufs_max": _round(loudest),
                "clipped": round(float(np.mean(np.abs(real) >= _FULL_SCALE)), 4),
                "silence": dbfs < self.config.silence_dbfs}

    def _detections(self, s0: int, s1: int, limit: int | None) -> tuple[Detection, ...]:
        out = [d for sample, d in self._onsets if s0 <= sample < s1]
        runs = list(self._closed) + [(t, t.confirmed) for t in (self._silence, self._loud) if t.confirmed]
        for tracker, run in runs:
            piece = self._piece(tracker, run, limit)  # type: ignore[arg-type]
            if piece is not None:
                out.append(piece)
        while self._closed and self._closed[0][1].reported >= self._closed[0][1].end:
            self._closed.popleft()
        return tuple(sorted(out, key=lambda d: (d.start, d.kind, d.end)))
