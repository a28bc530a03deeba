"""Per-query calibration: one threshold for queries whose raw scores live at different levels.

The two score sets imitate CLIP ViT-B/32 cosines over a feed: query A ("a car") scores 0.20 +- 0.01
on most windows and 0.245 where a car is; query B ("a red car on a road at night") scores
0.30 +- 0.02 everywhere and 0.37 where it is true. Any one raw threshold fails one of them; the
calibrated one (z >= 3) finds exactly the true windows of both, on a file and on a live feed."""

from __future__ import annotations

import numpy as np

from streamfuse.match.calibrate import THRESHOLD, RunningCalibrator, calibrate


def _scores(base: float, noise: float, hit: float, hits: set[int], n: int = 200, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = base + np.clip(rng.normal(0, noise, n), -2.5 * noise, 2.5 * noise)
    for i in hits:
        s[i] = hit + rng.uniform(-0.002, 0.002)
    return s


HITS_A = {20, 21, 90, 150}
HITS_B = {5, 60, 61, 62, 180}
A = _scores(0.20, 0.01, 0.245, HITS_A, seed=1)
B = _scores(0.30, 0.02, 0.37, HITS_B, seed=2)


def _found(scores: np.ndarray, threshold: float) -> set[int]:
    cal = calibrate(scores)
    return {i for i, s in enumerate(scores) if cal.z(float(s)) >= threshold}


def test_one_calibrated_threshold_finds_the_true_windows_of_both_queries():
    assert _found(A, THRESHOLD) == HITS_A
    assert _found(B, THRESHOLD) == HITS_B


def test_no_raw_threshold_serves_both_queries():
    for raw in np.arange(0.15, 0.45, 0.005):
        a = {i for i, s in enumerate(A) if s >= raw}
        b = {i for i, s in enumerate(B) if s >= raw}
        assert a != HITS_A or b != HITS_B, raw


def test_live_calibration_matches_after_warm_up_on_the_running_distribution():
    for scores, hits in ((A, HITS_A), (B, HITS_B)):
        cal = RunningCalibrator(history=128, warmup=8)
        found = set()
        for i, s in enumerate(scores):
            z = cal.update(float(s))
            if i < 8:
                assert z is None  # nothing to stand out from yet
            elif z is not None and z >= THRESHOLD:
                found.add(i)
        assert found == {i for i in hits if i >= 8}


def test_a_flat_distribution_does_not_turn_noise_into_matches():
    flat = np.full(50, 0.25)
    flat[10] = 0.252  # within the floor of the spread
    assert _found(flat, THRESHOLD) == set()
