"""Window assignment on synthetic streams: every frame and sample lands in exactly the windows whose
span contains its time; streams that close or never exist do not stall alignment."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamfuse.align.windower import Windower
from streamfuse.decode.demux import StreamBound, StreamClosed
from streamfuse.decode.payloads import AudioClip, TextSegment, VideoFrame

IMG = np.zeros((2, 2, 3), np.uint8)


def frame(t: Fraction) -> VideoFrame:
    return VideoFrame(pts=int(t * 1000), time_base=Fraction(1, 1000), time=t, duration=Fraction(1, 1000), image=IMG)


def audio(start: int, n: int) -> AudioClip:
    # each sample holds its own index, so a window's audio can be checked sample by sample
    return AudioClip(start, np.arange(start, start + n, dtype=np.float32))


times = st.lists(st.fractions(min_value=0, max_value=20).map(lambda f: f.limit_denominator(1000)),
                 min_size=1, max_size=60, unique=True).map(sorted)
spans = st.sampled_from([(Fraction(2), Fraction(1)), (Fraction(1), Fraction(1)), (Fraction(3, 2), Fraction(1, 2)),
                         (Fraction(7, 10), Fraction(7, 20))])


@settings(max_examples=60, deadline=None)
@given(times, spans)
def test_every_frame_lands_in_exactly_the_windows_containing_it(frame_times, span):
    length, hop = span
    w = Windower("s", length, hop)
    items = [StreamClosed("audio"), StreamClosed("text")] + [frame(t) for t in frame_times]
    windows = list(w.feed(items))
    for t in frame_times:
        holders = {win.index for win in windows if any(f.time == t for f in win.frames)}
        expected = {win.index for win in windows if win.start <= t < win.end}
        assert holders == expected and holders, t
    # windows tile time from 0 on a fixed grid and cover the last frame
    assert [win.start for win in windows] == [k * hop for k in range(len(windows))]
    assert windows[-1].end > frame_times[-1]
    assert [win.final for win in windows].count(True) == 1 and windows[-1].final


@settings(max_examples=40, deadline=None)
@given(st.integers(min_value=1, max_value=70_000), st.integers(min_value=0, max_value=20_000),
       st.lists(st.integers(min_value=1, max_value=9000), min_size=1, max_size=12), spans)
def test_window_audio_is_exactly_its_samples(total, delay, chunk_sizes, span):
    length, hop = span
    w = Windower("s", length, hop)
    items = [StreamClosed("video"), StreamClosed("text")]
    pos = delay
    for size in chunk_sizes * (total // sum(chunk_sizes) + 1):
        if pos >= delay + total:
            break
        n = min(size, delay + total - pos)
        items.append(audio(pos, n))
        pos += n
    windows = list(w.feed(items))
    for win in windows:
        a0, a1 = int(win.start * 16000), int(win.end * 16000)
        assert win.audio.start == a0 and len(win.audio.samples) == a1 - a0
        idx = np.arange(a0, a1)
        real = (idx >= delay) & (idx < delay + total)
        assert np.array_equal(win.audio.valid_mask(), real)
        assert np.array_equal(win.audio.samples[real], idx[real].astype(np.float32))
        assert not win.audio.samples[~real].any()


def test_window_waits_for_the_slowest_open_stream():
    w = Windower("s", 2, 1)
    assert w.push(frame(Fraction(5))) == []  # video is far ahead, audio and text say nothing yet
    assert w.push(audio(0, 16000 * 2)) == []  # audio reached 2.0 s, text still open at 0
    out = w.push(StreamBound("text", Fraction(3)))
    # window [0, 2) is ready; it is held back one step so the last window can be flagged final
    assert [x.index for x in out] == []
    out = w.push(audio(32000, 16000))
    assert [x.index for x in out] == [0]


def test_missing_streams_close_and_never_stall():
    w = Windower("s", 2, 1)
    out = []
    for item in [StreamClosed("audio"), StreamClosed("text"), frame(Fraction(0)), frame(Fraction(7, 2))]:
        out += w.push(item)
    assert [x.index for x in out] == [0]  # video alone decides
    out += w.close()
    assert [x.index for x in out] == [0, 1, 2, 3]
    assert all(x.audio is None for x in out)


def test_subtitles_overlapping_a_window_are_attached_to_it():
    w = Windower("s", 2, 1)
    seg = TextSegment(Fraction(19, 10), Fraction(31, 10), "hello")
    windows = list(w.feed([StreamClosed("video"), StreamClosed("audio"), seg]))
    assert [x.index for x in windows if seg in x.segments] == [0, 1, 2, 3]  # [0,2) [1,3) [2,4) [3,5)


def test_hop_larger_than_length_is_refused():
    with pytest.raises(ValueError):
        Windower("s", 1, 2)
