"""Each generated clip really holds what its Truth claims, checked by decoding it with plain PyAV."""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pysubs2
import pytest

from streamfuse.testing import (
    Truth,
    make_audio_only_clip,
    make_av_sync_clip,
    make_beep_clip,
    make_bench_clip,
    make_corrupt_clip,
    make_delayed_audio_clip,
    make_flash_not_cut_clip,
    make_hard_cut_clip,
    make_nonzero_start_clip,
    make_not_media,
    make_one_pixel_high_clip,
    make_sample_clip,
    make_shape_clip,
    make_silence_clip,
    make_single_frame_clip,
    make_subtitled_clip,
    make_truncated_clip,
    make_vfr_clip,
    make_video_only_clip,
)

# ---------------------------------------------------------------- plain PyAV readers


def video(truth: Truth) -> list[tuple[Fraction, np.ndarray]]:
    """``(absolute time, RGB image)`` of every decodable frame, in decode order."""
    out = []
    with av.open(str(truth.path)) as c:
        for packet in c.demux(c.streams.video[0]):
            try:
                out += [(f.pts * f.time_base, f.to_ndarray(format="rgb24")) for f in packet.decode()]
            except av.error.InvalidDataError:
                pass
    return out


def audio(truth: Truth) -> tuple[Fraction, np.ndarray, int]:
    """(absolute time of the first decoded sample, mono float samples, sample rate)."""
    with av.open(str(truth.path)) as c:
        stream = c.streams.audio[0]
        frames = list(c.decode(stream))
    chunks = []
    for f in frames:
        a = f.to_ndarray()[0]
        chunks.append(a / 32768.0 if a.dtype == np.int16 else a / 2.0**31 if a.dtype == np.int32 else a)
    return frames[0].pts * frames[0].time_base, np.concatenate(chunks).astype(np.float64), stream.rate


def rel(truth: Truth, frames) -> list[Fraction]:
    return [t - truth.start for t, _ in frames]


def brightness(frames) -> np.ndarray:
    return np.array([img.mean() for _, img in frames])


def beep_at(x: np.ndarray, rate: int, expected: int, freq: float = 1000.0, length: float = 0.05) -> int:
    """Index of the beep nearest ``expected``, by correlation with the cosine template (±20 ms search)."""
    n = int(length * rate)
    ref = np.cos(2 * np.pi * freq * np.arange(n) / rate)
    lo = max(0, expected - rate // 50)
    seg = x[lo : expected + rate // 50 + n]
    scores = np.correlate(seg, ref, "valid")
    best = int(np.argmax(scores))
    assert scores[best] > 0.3 * 0.5 * n / 2, "no beep near the expected time"
    return lo + best


def exact_onsets(x: np.ndarray, threshold: float = 0.2) -> list[int]:
    """Samples where the signal jumps from silence to loud (lossless audio)."""
    loud = np.abs(x) > threshold
    quiet_before = np.r_[True, np.convolve(np.abs(x) > 1e-4, np.ones(48), "full")[: len(x) - 1] == 0]
    return [int(i) for i in np.flatnonzero(loud & quiet_before)]


# ---------------------------------------------------------------- the demo clip


def test_sample_clip_streams_cut_tones_and_embedded_subtitles(clips):
    truth = clips(make_sample_clip, ".mkv")
    with av.open(str(truth.path)) as c:
        v, a, s = c.streams.video[0], c.streams.audio[0], c.streams.subtitles[0]
        assert (v.codec.name, v.width, v.height, v.average_rate) == ("h264", 320, 240, 25)
        assert (a.codec.name, a.rate, a.channels) == ("aac", 44100, 1)
        assert s.codec.name == truth.subtitle_codec == "srt"
        packets = [p for p in c.demux(s) if p.size]
        got = [(p.pts * p.time_base, (p.pts + p.duration) * p.time_base, s.decode(p)[0].dialogue.decode()) for p in packets]
    assert got == [(cue.start, cue.end, cue.text) for cue in truth.cues]

    frames = video(truth)
    assert rel(truth, frames) == list(truth.frame_times)
    (cut,) = truth.cut_times
    k = truth.frame_times.index(cut)
    jumps = [np.abs(frames[i][1].astype(int) - frames[i - 1][1]).mean() for i in range(1, len(frames))]
    assert int(np.argmax(jumps)) + 1 == k and jumps[k - 1] > 5 * sorted(jumps)[-2]

    start, x, rate = audio(truth)
    assert start == truth.audio_start == 0
    for a, b in truth.tone_spans:
        inside = x[int(a * rate) + 441 : int(b * rate) - 441]
        assert np.sqrt(np.mean(inside**2)) > 0.3
    silent = np.ones(len(x), bool)
    for a, b in truth.tone_spans:
        silent[int(a * rate) - 441 : int(b * rate) + 441] = False
    assert np.abs(x[silent]).max() < 0.02


# ---------------------------------------------------------------- A/V sync


@pytest.mark.parametrize(("suffix", "codec"), [(".mkv", "pcm_s16le"), (".mov", "pcm_s16le"), (".mkv", "flac"), (".mkv", "aac")])
def test_av_sync_clip_flashes_and_beeps_at_the_same_exact_times(clips, suffix, codec):
    truth = clips(make_av_sync_clip, suffix, audio_codec=codec)
    frames = video(truth)
    assert rel(truth, frames) == list(truth.frame_times)
    lit = [t for t, b in zip(truth.frame_times, brightness(frames)) if b > 200]
    assert lit == list(truth.flash_times) and len(lit) == 8
    assert all(b < 60 for b in brightness(frames) if b <= 200)
    assert truth.flash_times[0] == Fraction(9, 25)  # 0.35 s moved to the nearest frame

    start, x, rate = audio(truth)
    assert start == truth.audio_start == 0 and rate == truth.sample_rate == 48000
    expected = [truth.sample_index(t) for t in truth.beep_times]
    assert truth.beep_times == truth.flash_times
    if codec == "aac":  # lossy: the onset is smeared, its position is not
        assert [beep_at(x, rate, i) for i in expected] == pytest.approx(expected, abs=2)
    else:
        assert exact_onsets(x) == expected


# ---------------------------------------------------------------- timing problems


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_vfr_clip_frame_times_are_irregular_and_exact(clips, suffix):
    truth = clips(make_vfr_clip, suffix)
    frames = video(truth)
    times = rel(truth, frames)
    assert times == list(truth.frame_times) and truth.fps is None
    steps = np.diff([float(t) for t in times])
    assert {round(s, 2) for s in steps} >= {0.03, 0.1, 0.04}  # 30, 10 and 24 fps segments
    if suffix == ".mp4":
        assert times[30:32] == [1, Fraction(11, 10)] and times[40:42] == [2, 2 + Fraction(1, 24)]
    lit = [t for t, b in zip(times, brightness(frames)) if b > 200]
    assert lit == list(truth.flash_times) == [1, 2]
    _, x, rate = audio(truth)
    expected = [truth.sample_index(t) for t in truth.beep_times]
    assert [beep_at(x, rate, i) for i in expected] == pytest.approx(expected, abs=2)


def test_delayed_audio_clip_audio_first_pts_is_the_delay(clips):
    truth = clips(make_delayed_audio_clip, ".mkv")
    assert truth.audio_start == Fraction(1, 2) and truth.video_start == 0
    with av.open(str(truth.path)) as c:
        assert c.streams.audio[0].start_time * c.streams.audio[0].time_base == Fraction(1, 2)
    start, x, rate = audio(truth)
    assert start == Fraction(1, 2)
    assert 0 <= len(x) - (truth.audio_end - truth.audio_start) * rate <= 2048  # AAC pads its last frame
    expected = [truth.sample_index(t) for t in truth.beep_times]
    assert [beep_at(x, rate, i) for i in expected] == pytest.approx(expected, abs=2)
    frames = video(truth)
    assert [t for t, b in zip(rel(truth, frames), brightness(frames)) if b > 200] == list(truth.flash_times) == [1, 2]


@pytest.mark.parametrize(("suffix", "start"), [(".ts", 10), (".mkv", 10), (".ts", 0)])
def test_nonzero_start_clip_starts_at_ten_seconds(clips, suffix, start):
    truth = clips(make_nonzero_start_clip, suffix, start=start)
    assert truth.start == start
    with av.open(str(truth.path)) as c:
        assert c.start_time == start * 1_000_000  # microseconds
    frames = video(truth)
    assert frames[0][0] == start and rel(truth, frames) == list(truth.frame_times)
    assert [t for t, b in zip(rel(truth, frames), brightness(frames)) if b > 200] == list(truth.flash_times)
    start, x, rate = audio(truth)
    assert start - truth.start == truth.audio_start == 0
    expected = [truth.sample_index(t) for t in truth.beep_times]
    assert [beep_at(x, rate, i) for i in expected] == pytest.approx(expected, abs=2)


# ---------------------------------------------------------------- missing streams, tiny clips


@pytest.mark.parametrize("suffix", [".mkv", ".mp4"])
def test_video_only_clip_has_no_audio(clips, suffix):
    truth = clips(make_video_only_clip, suffix)
    with av.open(str(truth.path)) as c:
        assert len(c.streams.audio) == 0 and len(c.streams.video) == 1
    assert rel(truth, video(truth)) == list(truth.frame_times) and not truth.has_audio


@pytest.mark.parametrize(("suffix", "codec", "lossless"), [
    (".wav", "pcm_s16le", True), (".flac", "flac", True), (".ogg", "opus", False), (".m4a", "aac", False), (".mka", "aac", False),
])  # fmt: skip
def test_audio_only_clip_formats_have_beeps_at_exact_samples(clips, suffix, codec, lossless):
    truth = clips(make_audio_only_clip, suffix)
    with av.open(str(truth.path)) as c:
        assert len(c.streams.video) == 0 and c.streams.audio[0].codec.name == truth.audio_codec == codec
    start, x, rate = audio(truth)
    assert start == 0 and rate == truth.sample_rate == (48000 if codec == "opus" else 16000)
    expected = [truth.sample_index(t) for t in truth.beep_times]
    assert expected == [rate // 2, rate * 3 // 2]
    if lossless:
        assert exact_onsets(x) == expected
    else:
        assert [beep_at(x, rate, i, length=0.1) for i in expected] == pytest.approx(expected, abs=2)


def test_beep_and_silence_clips(clips):
    beeps = clips(make_beep_clip, ".wav", beeps=(0.25, 0.6, 1.7))
    _, x, rate = audio(beeps)
    assert exact_onsets(x) == [4000, 9600, 27200]
    silence = clips(make_silence_clip, ".wav")
    _, x, rate = audio(silence)
    assert len(x) == 2 * rate and not x.any() and silence.beep_times == ()


def test_single_frame_clip_decodes_one_frame_at_zero(clips):
    truth = clips(make_single_frame_clip, ".mkv")
    frames = video(truth)
    assert [t for t, _ in frames] == [0] == list(truth.frame_times)
    assert truth.duration == Fraction(1, 25)


def test_one_pixel_high_clip_is_lossless_64x1(clips):
    truth = clips(make_one_pixel_high_clip, ".mkv")
    frames = video(truth)
    assert rel(truth, frames) == list(truth.frame_times) and len(frames) == 10
    ramp = np.linspace(0, 255, 64).astype(np.uint8)
    for k, (_, img) in enumerate(frames):
        assert img.shape == (1, 64, 3)
        assert np.abs(img[0, :, 0].astype(int) - np.roll(ramp, k)).max() <= 1


# ---------------------------------------------------------------- damaged and fake files


def test_truncated_mkv_decodes_only_its_first_part(clips):
    truth = clips(make_truncated_clip, ".mkv")
    frames = video(truth)
    last = frames[-1][0]
    assert 0 < len(frames) < len(truth.frame_times)
    assert abs(last - truth.decodable_until) < truth.duration / 4


def test_truncated_mp4_does_not_open_and_faststart_partly_decodes(clips):
    truth = clips(make_truncated_clip, ".mp4")
    assert truth.decodable_until == 0
    with pytest.raises(av.error.InvalidDataError):
        av.open(str(truth.path))
    fast = clips(make_truncated_clip, ".mp4", faststart=True)
    frames = video(fast)
    assert 0 < len(frames) < len(fast.frame_times)
    assert abs(max(t for t, _ in frames) - fast.decodable_until) < fast.duration / 4


def test_corrupt_clip_loses_frames_only_around_the_damaged_span(clips):
    truth = clips(make_corrupt_clip, ".ts")
    (a, b), d = truth.damaged[0], truth.duration
    got = set(rel(truth, video(truth)))
    missing = [t for t in truth.frame_times if t not in got]
    assert missing, "the garbage damaged nothing"
    assert all(a - d / 10 <= t < b + 1 + d / 10 for t in missing)  # decoding resumes at the next keyframe


def test_not_media_does_not_open(tmp_path):
    truth = make_not_media(tmp_path / "clip.mp4")
    assert truth.container is None and not truth.has_video and not truth.has_audio
    with pytest.raises(av.error.InvalidDataError):
        av.open(str(truth.path))


# ---------------------------------------------------------------- text


@pytest.mark.parametrize(("suffix", "sidecar", "embedded"), [(".mkv", "srt", True), (".mp4", "vtt", True), (".mkv", "vtt", False)])
def test_subtitled_clip_cues_embedded_and_in_sidecar(clips, suffix, sidecar, embedded):
    truth = clips(make_subtitled_clip, suffix, sidecar=sidecar, embedded=embedded)
    assert truth.sidecar == truth.path.with_suffix("." + sidecar) and len(truth.cues) == 3
    subs = pysubs2.load(str(truth.sidecar))
    assert [(Fraction(e.start, 1000), Fraction(e.end, 1000), e.plaintext) for e in subs] == [
        (c.start, c.end, c.text) for c in truth.cues
    ]
    with av.open(str(truth.path)) as c:
        if not embedded:
            assert len(c.streams.subtitles) == 0 and truth.subtitle_codec is None
            return
        s = c.streams.subtitles[0]
        assert s.codec.name == truth.subtitle_codec
        packets = [p for p in c.demux(s) if p.size > 2]  # mov_text writes 2-byte empty samples in gaps
        got = [(p.pts * p.time_base, (p.pts + p.duration) * p.time_base) for p in packets]
        texts = [s.decode(p)[0].dialogue.decode() for p in packets]
    assert got == [(c.start, c.end) for c in truth.cues]
    assert [t.replace("\\N", "\n").split("}")[-1] for t in texts] == [c.text for c in truth.cues]


def test_sidecar_only_clip_has_no_subtitle_stream(clips):
    truth = clips(make_subtitled_clip, ".mkv", sidecar="srt", embedded=False)
    with av.open(str(truth.path)) as c:
        assert not c.streams.subtitles
    assert len(pysubs2.load(str(truth.sidecar))) == 3


# ---------------------------------------------------------------- perception


def test_shape_clip_square_visible_exactly_inside_its_span(clips):
    truth = clips(make_shape_clip, ".mkv")
    ((a, b),) = truth.shape_spans
    assert (a, b) == (1, 3)
    for t, img in video(truth):
        yellow = ((img[..., 0] > 180) & (img[..., 1] > 160) & (img[..., 2] < 100)).sum()
        assert (yellow > 100) == (a <= t < b), f"t={t}"


def test_flash_not_cut_clip_same_scene_around_a_bright_flash(clips):
    truth = clips(make_flash_not_cut_clip, ".mkv")
    frames = video(truth)
    bright = brightness(frames)
    (flash,) = truth.flash_times
    k = truth.frame_times.index(flash)
    assert truth.cut_times == () and bright[k] > bright[k - 1] + 60 and bright[k + 1] > bright[k - 1] + 60
    before, after = frames[k - 1][1].astype(int), frames[k + 2][1].astype(int)
    assert np.abs(after - before).mean() < 8  # the same scene, three frames later


def test_hard_cut_clip_big_changes_only_at_the_cuts(clips):
    truth = clips(make_hard_cut_clip, ".mkv")
    frames = video(truth)
    jumps = np.array([np.abs(frames[i][1].astype(int) - frames[i - 1][1]).mean() for i in range(1, len(frames))])
    cuts = [rel(truth, frames)[i + 1] for i in np.flatnonzero(jumps > 30)]
    assert cuts == list(truth.cut_times) == [1, 2]


def test_bench_clip_small(clips):
    truth = clips(make_bench_clip, ".mp4", duration=12, width=160, height=96, fps=10)
    frames = video(truth)
    assert rel(truth, frames) == list(truth.frame_times) and len(frames) == 120
    jumps = np.array([np.abs(frames[i][1].astype(int) - frames[i - 1][1]).mean() for i in range(1, len(frames))])
    assert int(np.argmax(jumps)) + 1 == truth.frame_times.index(truth.cut_times[0]) and truth.cut_times == (10,)
    _, x, rate = audio(truth)
    a, b = truth.tone_spans[3]
    assert np.abs(x[int(a * rate) + 500 : int(b * rate) - 500]).max() > 0.2
    assert np.abs(x[int(b * rate) + 500 : int(b * rate) + rate // 2 - 500]).max() < 0.02


# ---------------------------------------------------------------- the Truth type and the generators' checks


def test_truth_is_frozen_and_sample_index_is_exact(clips):
    truth = clips(make_delayed_audio_clip, ".mkv")
    assert truth.sample_index(Fraction(1)) == 22050
    with pytest.raises(ValueError, match="not on a sample"):
        truth.sample_index(Fraction(1001, 1000))
    with pytest.raises(AttributeError):
        truth.start = Fraction(1)  # type: ignore[misc]


def test_generators_reject_unsupported_paths_and_parameters(tmp_path):
    with pytest.raises(ValueError, match=r"\.mkv"):
        make_sample_clip(tmp_path / "x.mp4")
    with pytest.raises(ValueError, match="suffixes"):
        make_beep_clip(tmp_path / "x.mp3")
    with pytest.raises(ValueError, match="0.01 s"):
        make_delayed_audio_clip(tmp_path / "x.mkv", audio_delay=1 / 3)
    with pytest.raises(ValueError, match="keep"):
        make_truncated_clip(tmp_path / "x.mkv", keep=1.5)
    with pytest.raises(ValueError, match="sidecar"):
        make_subtitled_clip(tmp_path / "x.mkv", sidecar="ass")
