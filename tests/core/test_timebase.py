"""Time conversion: exact, one rounding rule, no drift."""

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from streamfuse.timebase import as_fraction, samples_to_seconds, seconds_to_samples


def test_decimal_floats_become_exact_decimals():
    assert as_fraction(0.1) == Fraction(1, 10)
    assert as_fraction(2.0) == 2
    assert as_fraction("0.7") == Fraction(7, 10)


@given(st.integers(min_value=0, max_value=10**9), st.sampled_from([8000, 16000, 22050, 44100, 48000]))
def test_samples_round_trip(n, rate):
    assert seconds_to_samples(samples_to_seconds(n, rate), rate) == n


@given(st.fractions(min_value=0, max_value=10**5), st.fractions(min_value=0, max_value=10**5))
def test_adjacent_spans_share_no_sample(a, b):
    lo, hi = min(a, b), max(a, b)
    mid = (lo + hi) / 2
    # [lo, mid) and [mid, hi) partition [lo, hi) in sample indices
    assert seconds_to_samples(lo) <= seconds_to_samples(mid) <= seconds_to_samples(hi)
    assert (seconds_to_samples(mid) - seconds_to_samples(lo)) + (seconds_to_samples(hi) - seconds_to_samples(mid)) \
        == seconds_to_samples(hi) - seconds_to_samples(lo)


@given(st.fractions(min_value=0, max_value=10**4))
def test_rounding_is_to_nearest_sample(t):
    n = seconds_to_samples(t)
    assert abs(Fraction(n, 16000) - t) <= Fraction(1, 32000)
