"""Matching words with pictures and sounds offline, with no image-text model: the bundled sentence
model against each window's labels (ConSE), transcript and description, on real media. The truth
comes from the media (car spans labelled frame by frame, the bell at the start of bell.oga), never
from the pipeline's output."""

from __future__ import annotations

import pytest

from streamfuse.match import search
from streamfuse.testing.run import run_pipeline

#: when the cars of car-detection.mp4 are in view (as tests/perception/test_real_media.py states)
CAR_SPANS = ((4.40, 8.64), (14.48, 19.04), (25.28, 27.84))
NO_ASR = ("encoders.asr.enabled=false",)

pytestmark = pytest.mark.slow


def _overlaps_cars(start: float, end: float) -> bool:
    return any(start < hi and end > lo for lo, hi in CAR_SPANS)


@pytest.fixture(scope="module")
def street(media, tmp_path_factory):
    result, _, _ = run_pipeline(media / "intel" / "car-detection.mp4", tmp_path_factory.mktemp("street"), *NO_ASR)
    assert result.ok, result.error
    return result.folder


def test_a_car_on_the_road_finds_the_moments_with_cars(street):
    moments = search([street], "a car on the road", k=3)
    assert len(moments) == 3
    for m in moments:
        assert m.via in ("labels", "description") and m.frame is None
        assert _overlaps_cars(m.start, m.end), m
        assert m.match  # they stand out from the query's usual score
    assert moments[0].score >= moments[-1].score


def test_the_calibrated_score_of_the_empty_street_is_no_match(street):
    moments = {(m.start, m.end): m for m in search([street], "a car on the road", k=40)}
    quiet = [m for (a, b), m in moments.items() if not any(a < hi + 1 and b > lo - 1 for lo, hi in CAR_SPANS)]
    assert quiet and not any(m.match for m in quiet)


def test_a_bell_is_found_by_its_sound_label(media, tmp_path):
    result, _, _ = run_pipeline(media / "sounds" / "bell.oga", tmp_path, *NO_ASR)
    (best, *_) = search([result.folder], "a bell ringing", k=3)
    assert best.via in ("labels", "description") and best.start == 0.0
