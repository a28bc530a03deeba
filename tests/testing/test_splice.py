"""A spliced clip holds what its Truth claims: real shots joined at the stated times, flashes and a
fade where they were asked for, each shot's own sound; checked by decoding it with plain PyAV."""

from __future__ import annotations

from fractions import Fraction

import av
import cv2
import numpy as np
import pytest

from streamfuse.testing import Shot, make_spliced_clip

SIZE = (160, 120)


@pytest.fixture(scope="module")
def spliced(media, tmp_path_factory):
    shots = [Shot(media / "asl" / "again.mkv", 0, 0.8), Shot(media / "scenes" / "classroom.gif", 0, 1.0),
             Shot(media / "grid" / "bbaf2n.mpg", 1.0, 1.0)]
    path = tmp_path_factory.mktemp("splice") / "splice.mkv"
    truth = make_spliced_clip(path, shots, fps=25, size=SIZE, flashes=[1.2], bright=[0.4], fades=[(2.0, 0.6)])
    with av.open(str(path)) as c:
        frames = [(f.pts * f.time_base, f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=48000)
        sound = np.concatenate([o.to_ndarray().reshape(-1) for f in c.decode(audio=0) for o in resampler.resample(f)])
    return truth, frames, sound


def first_picture(path, at: float = 0.0) -> np.ndarray:
    """The source's frame at ``at`` s after its first one, as the splice fits it into SIZE."""
    with av.open(str(path)) as c:
        decoded = [(f.time, f) for f in c.decode(video=0)]
    t0 = decoded[0][0]
    frame = [f for t, f in decoded if t - t0 <= at + 1e-9][-1].to_ndarray(format="rgb24")
    h, w = frame.shape[:2]
    scale = min(SIZE[0] / w, SIZE[1] / h)
    sw, sh = round(w * scale), round(h * scale)
    out = np.zeros((SIZE[1], SIZE[0], 3), np.uint8)
    y, x = (SIZE[1] - sh) // 2, (SIZE[0] - sw) // 2
    out[y:y + sh, x:x + sw] = cv2.resize(frame, (sw, sh), interpolation=cv2.INTER_AREA)
    return out


def differ(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.int16) - b.astype(np.int16)).mean())


def test_the_truth_follows_from_the_shot_lengths(spliced):
    truth, frames, _ = spliced
    assert truth.cut_times == (Fraction(4, 5), Fraction(9, 5))  # 0.8 s, then 0.8 + 1.0 s
    assert truth.flash_times == (Fraction(2, 5), Fraction(6, 5))
    assert truth.fade_spans == ((Fraction(2), Fraction(13, 5)),)
    assert truth.duration == Fraction(14, 5) and truth.fps == 25
    assert [t for t, _ in frames] == [Fraction(k, 25) for k in range(70)] == list(truth.frame_times)


def test_each_shot_shows_its_own_source_from_the_cut_frame_on(spliced, media):
    _, frames, _ = spliced
    again, classroom = first_picture(media / "asl" / "again.mkv"), first_picture(media / "scenes" / "classroom.gif")
    grid = first_picture(media / "grid" / "bbaf2n.mpg", 1.0)
    k1, k2 = 20, 45  # frames at 0.8 s and 1.8 s
    assert differ(frames[0][1], again) < 8 < 30 < differ(frames[0][1], classroom)
    assert differ(frames[k1][1], classroom) < 8 < 30 < differ(frames[k1 - 1][1], classroom)
    assert differ(frames[k2][1], grid) < 8 < 30 < differ(frames[k2 - 1][1], grid)


def test_flashes_and_the_fade_are_where_asked(spliced):
    _, frames, _ = spliced
    mean = [float(img.mean()) for _, img in frames]
    assert mean[30] > 245 and max(mean[29], mean[31]) < 200  # the white frame at 1.2 s, one frame long
    assert mean[10] > 178 > max(mean[9], mean[11]) + 20  # the washed-out frame at 0.4 s
    assert min(mean[50:65]) < 8 and mean[57] < 8 < 40 < min(mean[49], mean[65])  # black in the middle of 2.0-2.6 s


def test_each_shot_keeps_its_own_sound(spliced):
    _, _, sound = spliced
    rms = lambda a, b: float(np.sqrt(np.mean(sound[int(a * 48000):int(b * 48000)] ** 2)))  # noqa: E731
    assert rms(0, 1.75) < 1e-3  # the asl clip and the gif have no sound: silence
    assert rms(1.85, 2.8) > 0.01  # the GRID sentence, spoken from 0.95 s of its clip


def test_flashes_and_fades_must_lie_inside_a_shot(media, tmp_path):
    shots = [Shot(media / "asl" / "again.mkv", 0, 0.8), Shot(media / "asl" / "book.mkv", 0, 0.8)]
    with pytest.raises(ValueError, match="inside one shot"):
        make_spliced_clip(tmp_path / "a.mkv", shots, flashes=[0.8])
    with pytest.raises(ValueError, match="inside one shot"):
        make_spliced_clip(tmp_path / "b.mkv", shots, fades=[(0.6, 0.4)])
    with pytest.raises(ValueError, match="no frame at"):
        make_spliced_clip(tmp_path / "c.mkv", [Shot(media / "asl" / "again.mkv", 2.0, 2.0)])
    assert not list(tmp_path.iterdir())  # nothing half-written
