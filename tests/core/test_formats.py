"""Many codecs, containers, frame rates, sample rates and channel layouts, through decode and align.

Each clip is made with PyAV: 3 s of a moving box (if video) and a 440 Hz tone that is on in the first
second of every two (if audio). Expected: about 3 s of media, the streams the clip has, frame times
at the clip's own rate, and the tone's on/off pattern at the right times after resampling to 16 kHz.
"""

from __future__ import annotations

from fractions import Fraction

import av
import numpy as np
import pytest

from streamfuse.testing.run import assert_same_windows, windows_of

DURATION = 3


def make(path, vcodec, acodec, fps, rate, layout, pix="yuv420p"):
    with av.open(str(path), "w") as c:
        v = c.add_stream(vcodec, rate=fps) if vcodec else None
        a = c.add_stream(acodec, rate=rate, layout=layout) if acodec else None
        if v is not None:
            v.width, v.height, v.pix_fmt = 320, 240, pix
            for i in range(int(DURATION * fps)):
                img = np.full((240, 320, 3), 40, np.uint8)
                img[50:90, (i * 5) % 280:(i * 5) % 280 + 40] = 220
                frame = av.VideoFrame.from_ndarray(img, format="rgb24")
                frame.pts, frame.time_base = i, 1 / Fraction(fps)
                c.mux(v.encode(frame))
            c.mux(v.encode(None))
        if a is not None:
            size = a.codec_context.frame_size or 1024
            t = np.arange(DURATION * rate) / rate
            tone = (0.3 * np.sin(2 * np.pi * 440 * t) * ((t % 2) < 1)).astype(np.float32)
            channels = len(av.AudioLayout(layout).channels)
            fmt = a.codec_context.format.name
            for s in range(0, len(tone), size):
                chunk = tone[s:s + size]
                if len(chunk) < size and not acodec.startswith(("pcm", "flac")):
                    chunk = np.pad(chunk, (0, size - len(chunk)))
                arr = np.tile(chunk, (channels, 1)) if fmt.endswith("p") else np.repeat(chunk, channels)[None, :]
                if fmt.startswith("s16"):
                    arr = (arr * 32767).astype(np.int16)
                elif fmt.startswith("s32"):
                    arr = (arr * 2**31).astype(np.int32)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(arr), format=fmt, layout=layout)
                frame.sample_rate, frame.pts, frame.time_base = rate, s, Fraction(1, rate)
                c.mux(a.encode(frame))
            c.mux(a.encode(None))


CASES = [
    ("vp8_opus.webm", "libvpx", "libopus", 30, 48000, "stereo"),
    ("vp9_opus_mono.webm", "libvpx-vp9", "libopus", 24, 48000, "mono"),
    ("mpeg4_mp3_22k.avi", "mpeg4", "mp3", 25, 22050, "stereo"),
    ("mjpeg_pcm_8k_ntsc.mov", "mjpeg", "pcm_s16le", Fraction(30000, 1001), 8000, "mono"),
    ("h264_aac_51_50fps.mp4", "libx264", "aac", 50, 44100, "5.1"),
    ("h264_flac_96k_ntsc.mkv", "libx264", "flac", Fraction(30000, 1001), 96000, "stereo"),
    ("mpeg2_mp2.mpg", "mpeg2video", "mp2", 25, 48000, "stereo"),
    ("audio.mp3", None, "mp3", 0, 44100, "stereo"),
    ("audio_opus.ogg", None, "libopus", 0, 48000, "stereo"),
]


@pytest.mark.parametrize("name, vcodec, acodec, fps, rate, layout", CASES, ids=[c[0] for c in CASES])
def test_codec_container_rate_matrix(tmp_path, name, vcodec, acodec, fps, rate, layout):
    path = tmp_path / name
    make(path, vcodec, acodec, fps, rate, layout, pix="yuvj420p" if vcodec == "mjpeg" else "yuv420p")
    windows, report = windows_of(path, "decode.fps=0", "decode.skip_frames=none")
    assert report.decode_errors == 0 and not report.truncated
    assert abs(report.media_end - DURATION) < 0.15
    frames = sorted({f.time: f for w in windows for f in w.frames}.values(), key=lambda f: f.time)
    if vcodec:
        step = 1 / Fraction(fps)
        assert abs(len(frames) - DURATION * fps) <= 0.05 * DURATION * fps
        # every gap is a whole number of frame periods (AVI, which stores no timestamps, may skip one),
        # to the millisecond (Matroska and WebM store milliseconds)
        gaps = [b.time - a.time for a, b in zip(frames, frames[1:])]
        assert all(round(g / step) >= 1 and abs(g - round(g / step) * step) <= Fraction(1, 1000) for g in gaps)
        assert frames[0].image.shape == (240, 320, 3)
    else:
        assert not frames and "video" in windows[0].absent
    # the tone is on in [0, 1) and [2, 3), off in [1, 2): check the level in the middle of each second
    audio = np.concatenate([w.audio.samples[:16000] for w in windows if w.index < DURATION])
    level = [float(np.sqrt(np.mean(audio[i * 16000 + 4000: i * 16000 + 12000] ** 2))) for i in range(DURATION)]
    assert level[0] > 0.1 and level[2] > 0.1 and level[1] < 0.01, level


@pytest.mark.parametrize("name, vcodec, acodec, fps, rate, layout", CASES, ids=[c[0] for c in CASES])
def test_the_decoding_worker_gives_the_same_windows(tmp_path, name, vcodec, acodec, fps, rate, layout):
    """The local runtime decodes in a worker process: with the default settings (10 fps picked by
    time, unreferenced frames skipped where the rate allows) it must see exactly what this process sees."""
    path = tmp_path / name
    make(path, vcodec, acodec, fps, rate, layout, pix="yuvj420p" if vcodec == "mjpeg" else "yuv420p")
    here, report = windows_of(path)
    there, worker_report = windows_of(path, worker=True)
    assert here
    assert_same_windows(here, there)
    assert worker_report == report

