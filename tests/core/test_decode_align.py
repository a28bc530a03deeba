"""Decoding and alignment on generated clips, each named for the problem it covers. Expected
answers come from the generator's parameters (``Truth``), never from decoding with our own code."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from streamfuse.testing import media as gen

from streamfuse.testing.run import windows_of


def all_frames(windows):
    seen = {}
    for w in windows:
        for f in w.frames:
            seen[f.time] = f
    return [seen[t] for t in sorted(seen)]


def test_variable_frame_rate_keeps_true_frame_times(make):
    truth = make("vfr.mkv", gen.make_vfr_clip)
    windows, _ = windows_of(truth.path, "decode.fps=0")
    assert [f.time for f in all_frames(windows)] == list(truth.frame_times)
    for w in windows:
        assert all(w.start <= f.time < w.end for f in w.frames)


def test_analysis_rate_samples_by_timestamp_on_vfr(make):
    truth = make("vfr.mkv", gen.make_vfr_clip)
    windows, _ = windows_of(truth.path, "decode.fps=5", "decode.skip_frames=none")
    times = [f.time for f in all_frames(windows)]
    # one frame per 0.2 s slot: the first frame at or after each slot start
    expected = []
    slot = Fraction(0)
    for t in truth.frame_times:
        if t >= slot:
            expected.append(t)
            slot = (t // Fraction(1, 5) + 1) * Fraction(1, 5)
    assert times == expected


def test_skipping_unreferenced_frames_keeps_exact_times(make):
    truth = make("vfr.mkv", gen.make_vfr_clip)
    windows, report = windows_of(truth.path, "decode.fps=5", "decode.skip_frames=nonref")
    times = [f.time for f in all_frames(windows)]
    assert report.skipped_nonref
    assert set(times) <= set(truth.frame_times)  # every analysed frame carries its true time
    slots = [t // Fraction(1, 5) for t in times]
    assert slots == sorted(set(slots))  # at most one frame per 0.2 s slot


def test_delayed_audio_start_is_padded_and_flagged(make):
    truth = make("delayed.mkv", gen.make_delayed_audio_clip, audio_delay=0.5)
    windows, _ = windows_of(truth.path)
    first = windows[0]
    start_sample = int(truth.audio_start * 16000)
    assert first.audio.missing[0] == (0, start_sample)
    assert not first.audio.samples[:start_sample].any()
    assert first.frames[0].time == truth.frame_times[0] == 0
    # the first beep is at its true time, not shifted by the delay
    beep = truth.beep_times[0]
    i = int(beep * 16000)
    energy_before = np.abs(first.audio.samples[i - 160:i - 10]).max()
    energy_after = np.abs(first.audio.samples[i + 10:i + 160]).max()
    assert energy_before < 0.02 < energy_after


def test_nonzero_start_time_is_the_origin(make):
    truth = make("offset.ts", gen.make_nonzero_start_clip, start=10.0)
    assert truth.start == 10
    windows, report = windows_of(truth.path, "decode.fps=0")
    frames = all_frames(windows)
    assert frames[0].time == truth.frame_times[0]
    assert [f.time for f in frames] == list(truth.frame_times)
    assert windows[0].start == 0 and float(report.media_end) < 10  # media time counts from the start


def test_no_audio_track_never_stalls(make):
    truth = make("video_only.mkv", gen.make_video_only_clip, duration=2.0)
    windows, _ = windows_of(truth.path)
    assert windows and all(w.audio is None and w.modalities == ["video"] for w in windows)
    assert windows[-1].final and windows[-1].end >= truth.duration


def test_no_video_track(make):
    truth = make("audio_only.wav", gen.make_audio_only_clip, duration=2.0)
    windows, _ = windows_of(truth.path)
    assert [w.index for w in windows] == [0, 1]
    assert all(not w.frames and w.has_audio for w in windows)
    assert windows[0].audio.missing == ()
    # past the end of the stream the last window is padded and says so
    last = windows[-1]
    assert last.audio.missing == ((int(truth.duration * 16000), int(last.end * 16000)),)


def test_truncated_mkv_decodes_what_is_there(make):
    truth = make("truncated.mkv", gen.make_truncated_clip, duration=4.0)
    windows, report = windows_of(truth.path)
    assert report.truncated
    assert abs(report.media_end - float(truth.decodable_until)) < 0.25 * float(truth.duration)


def test_corrupt_packets_are_skipped_and_reported(make):
    truth = make("corrupt.ts", gen.make_corrupt_clip)
    windows, report = windows_of(truth.path, "decode.fps=0")
    (lo, hi), = truth.damaged
    damaged = [span for w in windows for span in w.damaged]
    assert report.decode_errors > 0 and damaged
    # the damage is reported near where it is, and frames decode again after it
    assert any(lo - 1 <= a <= hi + 1 for a, _ in damaged)
    times = [f.time for f in all_frames(windows)]
    assert times[-1] >= truth.frame_times[-1] - 1
    assert any(t > hi for t in times)


@pytest.mark.parametrize("sidecar, embedded", [("srt", False), ("vtt", False), (None, True)])
def test_subtitles_sidecar_and_embedded(make, sidecar, embedded):
    truth = make(f"subs_{sidecar}_{embedded}.mkv", gen.make_subtitled_clip, sidecar=sidecar, embedded=embedded)
    windows, _ = windows_of(truth.path)
    segments = sorted({(s.start, s.end, s.text) for w in windows for s in w.segments})
    assert segments == [(c.start, c.end, " ".join(c.text.split())) for c in truth.cues]
    for w in windows:
        for s in w.segments:
            assert s.start < w.end and s.end > w.start


def test_audio_of_each_window_is_exact(make):
    truth = make("beeps.wav", gen.make_beep_clip, beeps=(0.5, 1.25), duration=2.0)
    windows, _ = windows_of(truth.path, "window.length=0.7", "window.hop=0.35")
    for w in windows:
        assert w.audio.start == round(w.start * 16000)
        assert len(w.audio.samples) == round(w.end * 16000) - round(w.start * 16000)


def test_every_frame_is_decoded_when_the_cut_detector_reads_them(make):
    """``decode.skip_frames=auto`` saves decoding unreferenced frames only when no enabled encoder
    reads every frame's thumbnail: a one-frame flash on a B-frame must not go unseen."""
    truth = make("bframes.mkv", gen.make_av_sync_clip, duration=3.0, fps=30)
    windows, report = windows_of(truth.path, "decode.fps=5")  # the motion encoder reads thumbnails
    thumbs = sorted({t.time for w in windows for t in w.thumbs})
    assert not report.skipped_nonref and thumbs == list(truth.frame_times)
    _, report = windows_of(truth.path, "decode.fps=5", "decode.skip_frames=nonref")
    assert report.skipped_nonref
