"""A short seeded run of the fuzzing harness (benchmarks/fuzz.py; its long run is the benchmark):
every hostile case is handled (exit 0 with damage reported, or exit 2 with one line), none crashes,
hangs or runs out of memory."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.timeout(300)


def _harness():
    spec = importlib.util.spec_from_file_location("streamfuse_fuzz", ROOT / "benchmarks" / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_short_seeded_fuzz_run_is_all_handled(tmp_path, media):
    fuzz = _harness()
    # decoding only (encoder cases cost ~15 s each, importing torch; the benchmark runs some)
    outcomes = fuzz.campaign(14, seed=13, jobs=2, timeout=60, work=tmp_path, encoder_share=0.0)
    print("\n" + fuzz.table(outcomes))
    kinds = {o.case.kind for o in outcomes}
    assert len(kinds) >= 5  # the seed spreads the cases over the kinds of mutation
    bad = [(o.case.index, o.case.kind, o.case.description, o.verdict, o.detail) for o in outcomes
           if o.verdict != "handled"]
    assert bad == []
