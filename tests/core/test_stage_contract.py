"""What the runtime does with a stage's declaration: look-back, batching, pluggable fusion, embeddings."""

from __future__ import annotations

import time
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import pytest

from streamfuse import registry
from streamfuse.config import load_config
from streamfuse.config.base import bounded
from streamfuse.encode.base import BaseEncoder, Detection, Features
from streamfuse.fuse.base import Fused, Fuser
from streamfuse.fuse.stage import FusionStage
from streamfuse.runtime.lanes import Lanes
from streamfuse.sinks.embeddings import load_embeddings
from streamfuse.spec import EventKind, StageSection, StageSpec, data
from streamfuse.testing import media as gen
from streamfuse.testing.run import of_type, run_pipeline
from streamfuse.testing.windows import windows_from_frames

QUIET = ("encoders.asr.enabled=false", "encoders.people.enabled=false", "encoders.faces.enabled=false",
         "encoders.vad.enabled=false", "encoders.loudness.enabled=false", "encoders.motion.enabled=false",
         "encoders.objects.enabled=false", "encoders.sounds.enabled=false")


def _blank_windows(seconds: int):
    frames = [(Fraction(k, 5), np.zeros((8, 8, 3), np.uint8)) for k in range(5 * seconds)]
    return windows_from_frames(frames)


# ---------------------------------------------------------------- look-back


@dataclass(frozen=True)
class LateConfig(StageSection):
    late: float = bounded(3.0, 0.0, 60.0, doc="seconds behind the window its detections are reported")
    declared: float = bounded(3.0, 0.0, 60.0, doc="the look-back it declares")


class LateEncoder(BaseEncoder):
    """Sees a presence continuously, but reports each second of it ``late`` seconds later (as a
    recogniser that needs context would): the window starting at t reports ``[t - late, t - late + 1)``."""

    spec = StageSpec(key="late", config=LateConfig, modality="video", lookback="declared",
                     kinds=(EventKind("presence", "durative", ("video",)),))

    def __init__(self, config: LateConfig) -> None:
        self.late = Fraction(config.late).limit_denominator(10)

    def __call__(self, window) -> Features:
        t = window.start - self.late
        dets = (Detection("presence", t, t + 1, 0.9),) if t >= 0 and not window.final else ()
        return Features(self.name, self.modality, detections=dets)


@pytest.fixture
def late():
    registry.register(LateEncoder)
    yield
    registry.unregister("late")


def _fuse(config, windows, encoder):
    stage = FusionStage(config, "src", "clip")
    events = []
    for w in windows:
        events += stage(w, [encoder(w)]).events
    return events


def test_fusion_holds_series_open_for_the_declared_lookback(late):
    windows = _blank_windows(12)
    config = load_config(sets=[*QUIET, "fusion.gap=0.5", "encoders.late.declared=3"])
    events = [e for e in _fuse(config, windows, LateEncoder(config.encoders.late)) if e["type"] == "streamfuse.presence"]
    # the presence is continuous from 0 s: one series, announced once, ended once
    phases = [e["data"]["phase"] for e in events]
    assert phases.count("start") == 1 and phases.count("end") == 1 and phases[-1] == "end"
    assert events[-1]["data"]["start"] == 0.0 and events[-1]["data"]["end"] >= 7.0


def test_without_the_declared_lookback_late_detections_split_the_series(late):
    windows = _blank_windows(12)
    config = load_config(sets=[*QUIET, "fusion.gap=0.5", "encoders.late.declared=0"])
    events = [e for e in _fuse(config, windows, LateEncoder(config.encoders.late)) if e["type"] == "streamfuse.presence"]
    # ended before the late pieces came: many short series (what the declaration prevents)
    assert [e["data"]["phase"] for e in events].count("start") > 1


# ---------------------------------------------------------------- batching


@dataclass(frozen=True)
class CountConfig(StageSection):
    batch_size: int = bounded(4, 1, 64)


class CountEncoder(BaseEncoder):
    """Stateful: numbers the frames it has seen; can take several windows in one call."""

    spec = StageSpec(key="count", config=CountConfig, modality="video")

    def __init__(self, config: CountConfig, slow_first: bool = False) -> None:
        self.config = config
        self.seen: set[Fraction] = set()
        self.calls: list[int] = []
        self.slow_first = slow_first

    def __call__(self, window) -> Features:
        if self.slow_first and not self.seen:
            time.sleep(0.5)  # the lane falls behind: the windows behind it queue up
        new = [f.time for f in window.frames if f.time not in self.seen]
        self.seen.update(new)
        return Features(self.name, self.modality, summary={"index": window.index, "new": len(new),
                                                           "total": len(self.seen)})

    def batch(self, windows) -> list[Features]:
        self.calls.append(len(windows))
        return [self(w) for w in windows]


def test_a_lane_that_falls_behind_batches_and_batched_equals_one_by_one():
    windows = _blank_windows(10)
    one = CountEncoder(CountConfig())
    expected = [one(w).summary for w in windows]
    batched = CountEncoder(CountConfig(batch_size=4), slow_first=True)
    lanes = Lanes([batched])
    try:
        first = lanes.submit(windows[0])
        time.sleep(0.1)  # the first call is running (and slow)
        pending = [first] + [lanes.submit(w) for w in windows[1:]]
        got = [p.result()[0].summary for p in pending]
    finally:
        lanes.close()
    assert got == expected
    assert 1 < max(batched.calls) <= 4  # the queued windows came in calls of at most batch_size


def test_batch_size_one_never_batches():
    windows = _blank_windows(4)
    enc = CountEncoder(CountConfig(batch_size=1))
    lanes = Lanes([enc])
    try:
        [p.result() for p in [lanes.submit(w) for w in windows]]
    finally:
        lanes.close()
    assert enc.calls == []  # called one window at a time


# ---------------------------------------------------------------- pluggable fusion


@dataclass(frozen=True)
class TallyConfig(StageSection):
    every: int = bounded(2, 1, 100, doc="report every this many windows")


class TallyFuser(Fuser):
    """A second fuser: an instant ``tally`` event every ``every`` windows, and its count in the record."""

    spec = StageSpec(key="tally", config=TallyConfig, kinds=(EventKind("tally", "instant", ("video",),
                                                                       data(windows={"type": "integer"})),))

    def __init__(self, config, context) -> None:
        super().__init__(config, context)
        self.section = config.sections["tally"]
        self.n = 0

    def __call__(self, window, features) -> Fused:
        self.n += 1
        fused = Fused(record={"tally": self.n}, embeddings={"tally.n": np.array([self.n], np.float32)})
        if self.n % self.section.every == 0:
            det = Detection("tally", window.start, window.start, 1.0, instant=True, evidence={"windows": self.n})
            fused.events.append(self.context.events.instant(det, ("video",)))
        return fused


@pytest.fixture
def tally():
    registry.register(TallyFuser)
    yield
    registry.unregister("tally", "fusers")


def test_a_second_fuser_runs_beside_the_rules_or_instead_of_them(tally, make, tmp_path):
    truth = make("sample.mkv", gen.make_sample_clip)
    _, rules, _ = run_pipeline(truth.path, tmp_path / "rules", *QUIET)
    _, both, both_windows = run_pipeline(truth.path, tmp_path / "both", *QUIET, "fusion.fusers=[rules, tally]",
                                         "fusion.tally.every=3")
    _, alone, alone_windows = run_pipeline(truth.path, tmp_path / "alone", *QUIET, "fusion.fusers=[tally]")
    assert of_type(rules, "transcript") and not of_type(rules, "tally")
    assert len(of_type(both, "tally")) == len(both_windows) // 3
    assert {e["type"] for e in both} - {"streamfuse.tally"} == {e["type"] for e in rules}
    assert [w["tally"] for w in both_windows] == list(range(1, len(both_windows) + 1))
    assert all("description" in w for w in both_windows)
    assert {e["type"] for e in alone} == {"streamfuse.tally"}  # no rule-based events at all
    assert all("description" not in w and "tally" in w for w in alone_windows)
    ids = [e["id"] for e in both]
    assert len(ids) == len(set(ids))  # one numbering for both fusers


def test_an_unknown_fuser_is_a_config_error():
    from streamfuse.errors import ConfigError

    with pytest.raises(ConfigError, match=r"fusion\.fusers: 'learnt' is not one of 'rules'"):
        load_config(sets=["fusion.fusers=[learnt]"])


# ---------------------------------------------------------------- named embeddings in a sidecar


def test_window_embeddings_go_to_a_binary_sidecar_indexed_by_window(make, tmp_path):
    truth = make("sample.mkv", gen.make_sample_clip)
    result, _, windows = run_pipeline(truth.path, tmp_path, *QUIET)
    vectors, index = load_embeddings(result.folder, "text.window")
    assert vectors.dtype == np.float32 and vectors.shape == (len(windows), 384)
    assert list(index) == [w["index"] for w in windows]
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert all(w["embeddings"] == ["text.window"] for w in windows)
    assert all("embedding" not in w["text"] for w in windows)  # no float lists in the JSON
    # the same text gives the same vector: windows with identical description and transcript
    same = {}
    for w, v in zip(windows, vectors):
        same.setdefault((w["description"], w["text"]["transcript"]), []).append(v)
    assert any(len(vs) > 1 for vs in same.values()) and all(np.allclose(vs[0], vs[-1]) for vs in same.values())


def test_a_failed_run_leaves_no_sidecar_behind(make, tmp_path):
    from streamfuse.sinks.results import ResultWriter

    writer = ResultWriter(tmp_path, "x")
    writer.add_window({"index": 0}, {"a": np.ones(3, np.float32)})
    writer.abort()
    assert list(tmp_path.iterdir()) == []
