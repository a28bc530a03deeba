"""Models loaded once per fleet; the detector's frames from several cameras in one network call."""

from __future__ import annotations

import threading
import time

from streamfuse.config.loader import load_config
from streamfuse.fleet.shared import BatchingDetector, ModelPool


class _SlowDetector:
    def __init__(self) -> None:
        self.calls: list[int] = []
        self.gate = threading.Event()

    def __call__(self, images):
        self.gate.wait(5)
        self.calls.append(len(images))
        return [f"raw-{img}" for img in images]


def test_requests_waiting_together_go_through_one_call_and_each_caller_gets_its_own():
    det = _SlowDetector()
    shared = BatchingDetector(det, max_images=16)
    results: dict[str, list] = {}
    try:
        first = threading.Thread(target=lambda: results.update(first=shared(["x"])))
        first.start()
        time.sleep(0.2)  # the first call is in the network; three cameras queue behind it
        threads = [threading.Thread(target=lambda n=n: results.update({n: shared([f"{n}1", f"{n}2"])}))
                   for n in "abc"]
        for t in threads:
            t.start()
        time.sleep(0.3)
        det.gate.set()
        for t in [first, *threads]:
            t.join(5)
    finally:
        shared.close()
    assert det.calls == [1, 6]  # the three waiting cameras: one call
    assert results == {"first": ["raw-x"], **{n: [f"raw-{n}1", f"raw-{n}2"] for n in "abc"}}
    assert shared.stats.max_requests == 3 and shared.stats.shared_calls == 1


def test_two_cameras_share_one_detector_and_one_sound_model_but_not_their_trackers():
    config = load_config(sets=["encoders.asr.enabled=false", "encoders.text.enabled=false",
                               "encoders.faces.enabled=false", "encoders.vad.enabled=false",
                               "encoders.loudness.enabled=false", "encoders.motion.enabled=false"])
    pool = ModelPool()
    try:
        one, two = pool.encoders(config.encoders), pool.encoders(config.encoders)
        by = [{e.name: e for e in encs} for encs in (one, two)]
        assert by[0]["objects"] is not by[1]["objects"]  # per-camera tracks
        assert by[0]["objects"].detector is by[1]["objects"].detector is next(iter(pool.detectors.values()))
        assert by[0]["sounds"]._model is by[1]["sounds"]._model
        assert len(pool.detectors) == 1 and len(pool.yamnets) == 1
    finally:
        pool.close()
    alone = ModelPool(shared=False)
    objects_only = load_config(sets=["encoders.enabled=true", *(f"encoders.{k}.enabled=false" for k in (
        "asr", "text", "faces", "vad", "loudness", "motion", "sounds"))]).encoders
    encs = [{e.name: e for e in alone.encoders(objects_only)} for _ in range(2)]
    assert encs[0]["objects"].detector is not encs[1]["objects"].detector


def test_with_two_copies_two_calls_run_side_by_side_each_copy_on_one_thread():
    barrier = threading.Barrier(2, timeout=5)
    seen: list[tuple[int, str]] = []

    def copy(k: int):
        def detect(images):
            seen.append((k, threading.current_thread().name))
            barrier.wait()  # both copies must be inside the network at once, or this times out
            return list(images)
        return detect

    shared = BatchingDetector(copy(0), max_images=1, more=[copy(1)])
    out: dict[str, list] = {}
    try:
        threads = [threading.Thread(target=lambda n=n: out.update({n: shared([n])})) for n in "ab"]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
    finally:
        shared.close()
    assert out == {"a": ["a"], "b": ["b"]}
    assert sorted(k for k, _ in seen) == [0, 1] and len({name for _, name in seen}) == 2
