"""The audio encoders: speech activity (bundled silero VAD) and loudness / onsets / silence.

Synthetic clips state their answer in code (beeps at known sample indices, digital silence, a
full-scale square wave); real recordings come from ``../shared/media`` (skipped when absent).
"""

from __future__ import annotations

import json
import os
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from streamfuse.encode.audio.loudness import LoudnessConfig  # noqa: E402
from streamfuse.encode.audio.vad import VadConfig  # noqa: E402
from streamfuse.encode.audio import LoudnessEncoder, VadEncoder  # noqa: E402
from streamfuse.encode.audio._kweight import k_weighting_sos  # noqa: E402
from streamfuse.encode.audio._silero import CHUNK, SileroStream, load_jit_model  # noqa: E402
from streamfuse.encode.audio.vad import SpeechRuns  # noqa: E402
from streamfuse.errors import ConfigError  # noqa: E402
from streamfuse.testing.windows import windows_from_audio, windows_from_frames  # noqa: E402
from streamfuse.timebase import SAMPLE_RATE  # noqa: E402

MEDIA = Path(__file__).resolve().parents[2] / ".." / "shared" / "media"
SR = SAMPLE_RATE


def media(name: str) -> Path:
    path = MEDIA / name
    if not path.exists():
        pytest.skip(f"real media {path} is missing (tests read ../shared/media beside the repository)")
    return path


_decoded: dict[str, np.ndarray] = {}


def load_audio(name: str) -> np.ndarray:
    """A media file's first audio stream as 16 kHz mono float32, the way the decoder resamples."""
    if name not in _decoded:
        import av
        path = media(name)
        out = []
        with av.open(str(path)) as container:
            resampler = av.AudioResampler(format="flt", layout="mono", rate=SR)
            for frame in container.decode(audio=0):
                out += [f.to_ndarray().reshape(-1) for f in resampler.resample(frame)]
            out += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
        _decoded[name] = np.concatenate(out).astype(np.float32)
    return _decoded[name]


def run(encoder, windows):
    return [encoder(w) for w in windows]


def pieces(features, kind: str, label: str | None = None) -> list:
    """Every window's durative detections of one kind/label, checked to report each moment once."""
    found = sorted((d for f in features for d in f.detections
                    if d.kind == kind and not d.instant and (label is None or d.label == label)),
                   key=lambda d: d.start)
    for a, b in zip(found, found[1:]):
        assert a.end <= b.start, (a, b)  # no overlap, so no two pieces share a start either
    return found


def spans(features, kind: str = "speech", label: str | None = None) -> list[tuple[Fraction, Fraction]]:
    """The pieces of all windows joined: sorted disjoint spans."""
    merged: list[list[Fraction]] = []
    for d in pieces(features, kind, label):
        if merged and d.start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], d.end)
        else:
            merged.append([d.start, d.end])
    return [(a, b) for a, b in merged]


def seconds(found: list[tuple[Fraction, Fraction]]) -> list[tuple[float, float]]:
    return [(float(a), float(b)) for a, b in found]


def unique(features, kind: str, label: str | None = None) -> dict[Fraction, list]:
    """Instant detections of one kind/label by time, each with every window's copy."""
    out: dict[Fraction, list] = {}
    for f in features:
        for d in f.detections:
            if d.kind == kind and (label is None or d.label == label):
                out.setdefault(d.start, []).append(d)
    return out


def beeps(onsets: list[int], seconds: float = 6.0, noise_db: float = -60.0, amplitude: float = 0.3,
          length: float = 0.2, seed: int = 0) -> np.ndarray:
    """1 kHz beeps with sharp onsets at the given sample indices, over white noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0.0, 10 ** (noise_db / 20), int(seconds * SR))
    for s in onsets:
        n = np.arange(int(length * SR))
        x[s:s + len(n)] += amplitude * np.sin(2 * np.pi * 1000 * n / SR + 0.7)
    return x.astype(np.float32)


def assert_json(features) -> None:
    from streamfuse.fuse.values import json_safe

    for f in features:
        json.dumps(json_safe(f.summary), allow_nan=False)  # as the window record writes it
        for d in f.detections:
            json.dumps(d.evidence, allow_nan=False)


@pytest.fixture(scope="module")
def vad():
    return VadEncoder()  # each stream restarts it at window 0


# -- the window helpers --------------------------------------------------------------------------

def test_windows_from_audio_slices_like_the_pipeline():
    x = np.arange(int(3.5 * SR), dtype=np.float32)
    ws = windows_from_audio(x, length=2.0, hop=1.0, source_id="s")
    assert [(w.start, w.own_end, w.end) for w in ws] == [(k, k + 1, k + 2) for k in range(4)]
    assert [w.final for w in ws] == [False, False, False, True]
    for w in ws:
        assert w.audio.start == w.start * SR and len(w.audio.samples) == 2 * SR
        assert w.audio.samples[0] == w.start * SR  # the sample values are their own indices
    assert ws[2].audio.missing == ((int(3.5 * SR), 4 * SR),)
    assert not ws[3].audio.valid_mask()[SR // 2:].any()
    gap = windows_from_audio(np.ones(SR * 2, np.float32), missing=[(100, 200)])
    assert gap[0].audio.missing == ((100, 200),) and gap[0].audio.samples[150] == 0.0


def test_windows_from_frames_keeps_exact_times():
    times = [Fraction(k * 1001, 30000) for k in range(100)]  # 29.97 fps
    image = np.zeros((4, 6, 3), np.uint8)
    ws = windows_from_frames([(t, image) for t in times], length=2.0, hop=1.0)
    assert ws[-1].final and ws[0].start == 0 and ws[1].start == 1
    for w in ws:
        assert all(w.start <= f.time < w.end for f in w.frames)
        assert all(f.pts * f.time_base == f.time for f in w.frames)
    assert sum(1 for w in ws for f in w.frames if w.owns(f.time)) == len(times)


# -- VAD -----------------------------------------------------------------------------------------

def offline_runs(probs, fed, threshold, neg, min_speech, min_silence) -> list[bool]:
    """The same rules applied to the whole sequence at once (the reference)."""
    n = len(probs)
    triggered, state = [], False
    for p, f in zip(probs, fed):
        if not f:
            state = False
        elif p >= threshold:
            state = True
        elif p < neg:
            state = False
        triggered.append(state)
    segments: list[list[int]] = []
    c = 0
    while c < n:
        if not triggered[c]:
            c += 1
            continue
        d = c
        while d < n and triggered[d]:
            d += 1
        if segments and c - segments[-1][1] < min_silence and all(fed[segments[-1][1]:c]):
            segments[-1][1] = d
        else:
            segments.append([c, d])
        c = d
    out = [False] * n
    for a, b in segments:
        if b - a >= min_speech:
            out[a:b] = [True] * (b - a)
    return out


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.05, 0.3, 0.4, 0.5, 0.7, 0.95]),
                          st.booleans().map(lambda b: b or None)), max_size=80),
       st.integers(1, 6), st.integers(1, 8))
def test_speech_runs_stream_equals_offline(items, min_speech, min_silence):
    probs = [p for p, _ in items]
    fed = [f is not None for _, f in items]
    runs = SpeechRuns(0.5, 0.35, min_speech, min_silence)
    decided: list[bool] = []
    for p, f in zip(probs, fed):
        decided += runs.push(p, f)
        assert len(decided) == runs.decided <= runs.next
        assert runs.next - runs.decided <= min_speech + min_silence  # bounded look-ahead
    decided += runs.finish()
    assert decided == offline_runs(probs, fed, 0.5, 0.35, min_speech, min_silence)


def test_speech_runs_force_decides_up_to_a_point():
    runs = SpeechRuns(0.5, 0.35, 3, 5)
    out = []
    for p in [0.9, 0.9, 0.1, 0.1]:
        out += runs.push(p, True)
    assert runs.decided == 0
    out += runs.force(4)
    assert out == [True] * 4 and runs.decided == 4


def test_batched_silero_matches_silero_stateful_loop():
    import torch
    rng = np.random.default_rng(3)
    t = np.arange(3 * SR) / SR
    voiced = sum(np.sin(2 * np.pi * h * (120 + 20 * np.sin(2 * np.pi * 3 * t)) * t) / h for h in range(1, 12))
    x = (0.2 * voiced * (np.sin(2 * np.pi * 2 * t) > 0) + rng.normal(0, 0.01, len(t))).astype(np.float32)
    if (MEDIA / "grid/bbaf2n.mpg").exists():
        x = np.concatenate([x, load_audio("grid/bbaf2n.mpg")])
    x = x[:len(x) // CHUNK * CHUNK]
    jit = load_jit_model()
    jit.reset_states()
    with torch.no_grad():
        want = np.array([jit(torch.from_numpy(c), SR).item() for c in x.reshape(-1, CHUNK)])
    stream = SileroStream()
    got = np.concatenate([stream(c) for c in np.array_split(x.reshape(-1, CHUNK), 7)])
    assert np.abs(got - want).max() < 1e-4
    assert want.max() > 0.5  # the comparison covered speech-like probabilities


def test_vad_speech_on_grid_sentence(vad):
    feats = run(vad, windows_from_audio(load_audio("grid/bbaf2n.mpg")))
    found = seconds(spans(feats))
    assert len(found) == 1, found
    start, end = found[0]
    assert abs(start - 0.95) <= 0.15 and abs(end - 2.12) <= 0.25, found
    assert_json(feats)


def test_vad_speech_on_jfk_covers_the_speech(vad):
    feats = run(vad, windows_from_audio(load_audio("jfk/jfk.flac")))
    found = seconds(spans(feats))
    assert 0.25 <= found[0][0] <= 0.5 and 10.3 <= found[-1][1] <= 11.0, found
    covered = sum(min(b, 10.5) - max(a, 0.3) for a, b in found if b > 0.3 and a < 10.5)
    assert covered / 10.2 >= 0.65, found
    assert all(f.summary["speech"] for f in feats)


def speech_mask(features, lo: Fraction, hi: Fraction) -> np.ndarray:
    """Per sample of ``[lo, hi)``: inside a reported speech run."""
    m = np.zeros(int((hi - lo) * SR), bool)
    for f in features:
        for d in f.detections:
            a, b = max(d.start, lo), min(d.end, hi)
            if d.kind == "speech" and a < b:
                m[int((a - lo) * SR):int((b - lo) * SR)] = True
    return m


def test_vad_is_consistent_across_overlapping_windows(vad):
    x = load_audio("jfk/jfk.flac")
    ws = windows_from_audio(x)
    feats = run(vad, ws)
    whole = run(vad, windows_from_audio(x, length=12.0, hop=12.0))  # one window: the offline answer
    assert spans(feats) == spans(whole)  # pieces() also checks each moment is reported once
    for w, f in zip(ws, feats):
        # a window reports its own span, every chunk of it decided, with the whole-file answer
        hi = w.end if w.final else w.own_end
        assert all(w.start <= d.start < d.end <= hi for d in f.detections)
        assert (speech_mask([f], w.start, hi) == speech_mask(whole, w.start, hi)).all(), w
        # the summary covers the whole window, as far as decided (the look-ahead is under 0.5 s)
        decided = speech_mask(whole, w.start, w.end if w.final else w.end - Fraction(1, 2))
        assert f.summary["speech_ratio"] >= decided.sum() / (2 * SR) - 1e-9
        assert f.summary["speech"] == bool(f.summary["speech_ratio"])
    ends = [d for f in feats for d in f.detections]
    assert all(d.evidence["continues"] == any(e.start == d.end for e in ends) for d in ends)


def test_vad_with_hops_shorter_than_its_look_ahead(vad):
    x = load_audio("jfk/jfk.flac")
    ws = windows_from_audio(x, length=0.5, hop=0.25)  # min_silence 0.3 s > the 0.25 s overlap
    feats = run(vad, ws)
    owned = np.concatenate([speech_mask([f], w.start, w.end if w.final else w.own_end) for w, f in zip(ws, feats)])
    whole = speech_mask(run(vad, windows_from_audio(x, length=12.0, hop=12.0)), Fraction(0), ws[-1].end)
    assert len(owned) == len(whole)
    assert np.mean(owned == whole) > 0.95  # decided early by a hang-over, so speech may end a little later
    assert not (whole & ~owned).any()


def test_vad_no_speech_in_digital_silence_clip(vad):
    feats = run(vad, windows_from_audio(load_audio("intel/car-detection.mp4")))
    assert len(feats) >= 30 and not [d for f in feats for d in f.detections]
    assert all(f.summary["speech_ratio"] == 0.0 for f in feats)


def test_vad_silence_square_wave_and_missing_audio(vad):
    zeros = run(vad, windows_from_audio(np.zeros(5 * SR, np.float32)))
    assert all(f.summary["speech_ratio"] == 0.0 and f.summary["speech"] is False and f.summary["speech_spans"] == []
               and not f.detections for f in zeros)
    square = np.sign(np.sin(2 * np.pi * 440 * np.arange(4 * SR) / SR)).astype(np.float32)
    feats = run(vad, windows_from_audio(square))
    assert all(0.0 <= f.summary["speech_ratio"] <= 1.0 for f in feats)
    # speech with a hole: the missing part is never speech, a fully missing window has no ratio
    x = load_audio("jfk/jfk.flac")
    hole = (3 * SR, 6 * SR)
    feats = run(vad, windows_from_audio(x, missing=[hole]))
    for f in feats:
        for d in f.detections:
            assert d.end <= 3 or d.start >= 6, d
    assert feats[4].summary["speech_ratio"] is None  # [4, 6) is all missing
    assert spans(feats)[-1][1] > 10


def test_vad_caches_stay_bounded(vad):
    rng = np.random.default_rng(5)
    x = rng.normal(0, 0.05, 150 * SR).astype(np.float32)
    sizes = []
    for w in windows_from_audio(x, length=0.5, hop=0.25):  # 600 windows
        vad(w)
        sizes.append(vad.cached())
    assert len(sizes) == 600
    assert max(sizes) <= 0.5 * SR / CHUNK + 3, max(sizes)


def test_vad_config_checks():
    with pytest.raises(ConfigError, match="neg_threshold"):
        VadConfig(threshold=0.4, neg_threshold=0.6)
    assert VadConfig().speech_end_threshold == pytest.approx(0.35)


# -- loudness ------------------------------------------------------------------------------------

def test_k_weighting_gives_the_published_48k_coefficients():
    sos = k_weighting_sos(48000)
    assert np.allclose(sos[0], [1.53512485958697, -2.69169618940638, 1.19839281085285,
                                1.0, -1.69065929318241, 0.73248077421585], atol=1e-9)
    assert np.allclose(sos[1], [1.0, -2.0, 1.0, 1.0, -1.99004745483398, 0.99007225036621], atol=1e-9)


def test_loudness_of_a_full_scale_997hz_sine():
    x = np.sin(2 * np.pi * 997 * np.arange(4 * SR) / SR).astype(np.float32)
    summary = run(LoudnessEncoder(), windows_from_audio(x))[1].summary
    assert summary["dbfs"] == pytest.approx(-3.01, abs=0.02)
    assert summary["lufs"] == pytest.approx(-3.01, abs=0.1)  # BS.1770's reference tone
    assert summary["peak_dbfs"] == pytest.approx(0.0, abs=0.01)


def test_beep_onsets_are_timed_within_10_ms():
    # off the 10 ms grid, and one 5 samples before a window's end
    onsets = [int(0.5123 * SR), int(1.7771 * SR), 2 * SR - 5, int(3.0411 * SR), int(4.6667 * SR)]
    x = beeps(onsets)
    ws = windows_from_audio(x)
    feats = run(LoudnessEncoder(), ws)
    found = unique(feats, "sound", "onset")
    assert len(found) == len(onsets), sorted(map(float, found))
    for want, (t, copies) in zip(onsets, sorted(found.items())):
        assert abs(float(t) - want / SR) <= 0.010
        assert all(c == copies[0] and c.instant for c in copies)  # identical in every window
        holders = [w for w in ws if w.start <= t < w.end]
        assert len(copies) == len(holders)
    assert_json(feats)


def test_bell_gives_one_onset():
    feats = run(LoudnessEncoder(), windows_from_audio(load_audio("sounds/bell.oga")))
    found = unique(feats, "sound", "onset")
    assert len(found) == 1 and float(next(iter(found))) < 0.05, found


def test_digital_silence_is_silence_and_no_sound():
    feats = run(LoudnessEncoder(), windows_from_audio(np.zeros(int(4.5 * SR), np.float32)))
    for f in feats:
        assert f.summary["silence"] is True and f.summary["dbfs"] == -120.0 and f.summary["lufs"] == -120.0
        assert not [d for d in f.detections if d.kind == "sound"]
    assert spans(feats, "silence") == [(0, Fraction(9, 2))]
    found = pieces(feats, "silence")
    assert all(d.confidence == 1.0 for d in found)
    assert [d.evidence["ongoing"] for d in found] == [True] * (len(found) - 1) + [False]
    assert_json(feats)


def test_full_scale_square_wave_reports_0_dbfs_peak():
    x = np.sign(np.sin(2 * np.pi * 440 * np.arange(3 * SR) / SR)).astype(np.float32)
    feats = run(LoudnessEncoder(), windows_from_audio(x))
    for f in feats[:-1]:
        assert f.summary["peak_dbfs"] == 0.0 and f.summary["dbfs"] == pytest.approx(0.0, abs=0.01)
        assert f.summary["clipped"] > 0.9 and f.summary["silence"] is False
    assert spans(feats, "sound", "sustained") == [(0, 3)]
    assert_json(feats)


def test_silence_and_sustained_spans_between_sounds():
    x = np.zeros(8 * SR, np.float32)
    x[int(2.5 * SR):int(3.5 * SR)] = 0.3 * np.sin(2 * np.pi * 440 * np.arange(SR) / SR)
    x[int(5.0 * SR):int(5.2 * SR)] = 0.3  # too short to be sustained
    feats = run(LoudnessEncoder(), windows_from_audio(x))
    assert seconds(spans(feats, "silence")) == [(0.0, 2.5), (3.5, 5.0), (5.2, 8.0)]
    assert seconds(spans(feats, "sound", "sustained")) == [(2.5, 3.5)]
    onsets = sorted(float(t) for t in unique(feats, "sound", "onset"))
    assert onsets == pytest.approx([2.5, 5.0], abs=0.002)


def test_missing_audio_is_neither_silence_nor_sound():
    x = np.zeros(6 * SR, np.float32)
    feats = run(LoudnessEncoder(), windows_from_audio(x, missing=[(2 * SR, 4 * SR)]))
    assert feats[2].summary["dbfs"] is None and feats[2].summary["silence"] is None
    assert seconds(spans(feats, "silence")) == [(0.0, 2.0), (4.0, 6.0)]


def test_loudness_windows_agree_with_one_pass():
    x = beeps([int(0.7 * SR), int(2.2031 * SR), int(5.5 * SR)], seconds=9.0, length=0.6)
    x[int(3 * SR):int(4.5 * SR)] = 0.0
    windowed = run(LoudnessEncoder(), windows_from_audio(x))
    whole = run(LoudnessEncoder(), windows_from_audio(x, length=9.0, hop=9.0))
    a = {t: c[-1] for t, c in unique(windowed, "sound", "onset").items()}
    b = {t: c[-1] for t, c in unique(whole, "sound", "onset").items()}
    assert len(a) == 3 and a == b
    for kind, label in (("sound", "sustained"), ("silence", None)):
        assert spans(windowed, kind, label) == spans(whole, kind, label)
        assert spans(windowed, kind, label)


def test_loudness_caches_stay_bounded():
    rng = np.random.default_rng(7)
    x = rng.normal(0, 0.02, 150 * SR).astype(np.float32)
    for k in range(0, 150, 3):  # beeps and silent gaps keep every detector busy
        x[k * SR:k * SR + SR // 5] += 0.5
        x[k * SR + SR: k * SR + int(2.2 * SR)] = 0.0
    encoder = LoudnessEncoder()
    sizes = []
    for w in windows_from_audio(x, length=0.5, hop=0.25):  # 600 windows
        encoder(w)
        sizes.append(encoder.cached())
    assert len(sizes) == 600
    assert max(sizes[100:]) <= max(sizes[:100]) + 4, (max(sizes[:100]), max(sizes[100:]))


def test_real_recordings_loudness():
    silent = run(LoudnessEncoder(), windows_from_audio(load_audio("intel/car-detection.mp4")))
    assert all(f.summary["silence"] is True for f in silent)
    assert not [d for f in silent for d in f.detections if d.kind == "sound"]
    assert seconds(spans(silent, "silence")) == [(0.0, 30.17)]  # to the frame holding the last sample
    speech = run(LoudnessEncoder(), windows_from_audio(load_audio("jfk/jfk.flac")))
    assert all(f.summary["silence"] is False for f in speech)
    assert_json(silent + speech)


def test_loudness_config_keys_apply():
    x = beeps([int(1.0 * SR)], seconds=3.0, amplitude=0.01)  # a beep at -43 dBFS
    quiet = unique(run(LoudnessEncoder(), windows_from_audio(x)), "sound", "onset")
    assert not quiet  # below loud_dbfs
    found = unique(run(LoudnessEncoder(LoudnessConfig(loud_dbfs=-50.0)), windows_from_audio(x)), "sound", "onset")
    assert [round(float(t), 2) for t in found] == [1.0]
