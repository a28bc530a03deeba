"""Bad input: one clear line on stderr, exit code 2, no traceback, nothing half-written."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamfuse.cli.main import main


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamfuse", *args], capture_output=True, text=True, timeout=120)


def assert_one_line_error(proc: subprocess.CompletedProcess, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("streamfuse: error:")]
    assert len(errors) == 1, proc.stderr
    for needle in needles:
        assert needle in errors[0], errors[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def leftovers(out: Path) -> list[str]:
    """The result folders in OUT (not the archive's journal and index, see streamfuse.archive)."""
    from streamfuse.archive.journal import ARCHIVE_STATE
    return sorted(p.name for p in out.iterdir() if p.name not in ARCHIVE_STATE) if out.exists() else []


def test_missing_path(tmp_path):
    proc = run_cli("analyze", str(tmp_path / "nope.mp4"), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, "nope.mp4", "no such file")
    assert leftovers(tmp_path / "out") == []


def test_not_media(tmp_path):
    fake = tmp_path / "notes.mp4"
    fake.write_text("this is a shopping list, not a video\n" * 20)
    proc = run_cli("analyze", str(fake), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, "notes.mp4", "not a media file")
    assert leftovers(tmp_path / "out") == []  # no partial folder left behind


def test_empty_file(tmp_path):
    fake = tmp_path / "empty.wav"
    fake.write_bytes(b"")
    proc = run_cli("analyze", str(fake), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, "empty.wav")


@pytest.mark.parametrize("setting, needle", [
    ("decode.fpz=3", "unknown config key 'decode.fpz'"),
    ("window.length=-2", "window.length"),
    ("runtime.kind=spark", "'local', 'ray'"),
    ("decode.width=wide", "decode.width"),
    ("window.hop=5", "window.hop"),
])
def test_bad_config_values(tmp_path, setting, needle):
    # validated before any input is opened, so the input need not exist
    assert main(["analyze", "whatever.mp4", "-o", str(tmp_path), "--set", setting]) == 2


def test_bad_config_messages(tmp_path, capsys):
    assert main(["analyze", "x.mp4", "--set", "decode.fpz=3"]) == 2
    err = capsys.readouterr().err
    assert "unknown config key 'decode.fpz'" in err and "fps" in err  # names the known keys


def test_bad_yaml_file(tmp_path):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("window: [unclosed\n")
    proc = run_cli("analyze", "x.mp4", "-c", str(cfg))
    assert_one_line_error(proc, "bad.yaml", "not valid YAML")


def test_unreachable_url(tmp_path):
    url = f"http://127.0.0.1:{free_port()}/clip.mp4"
    proc = run_cli("analyze", url, "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, "127.0.0.1", "cannot connect")


def test_unsupported_scheme(tmp_path):
    proc = run_cli("analyze", "gopher://example/clip.mp4")
    assert_one_line_error(proc, "scheme 'gopher' is not supported")


def test_credentials_never_printed(tmp_path):
    url = f"http://alice:s3cret@127.0.0.1:{free_port()}/clip.mp4"
    proc = run_cli("analyze", url, "-o", str(tmp_path / "out"))
    assert proc.returncode == 2
    assert "s3cret" not in proc.stderr + proc.stdout and "alice" not in proc.stderr + proc.stdout


def test_one_bad_input_does_not_stop_the_others(tmp_path, media):
    fake = tmp_path / "bad.mkv"
    fake.write_bytes(b"\x00" * 4096)
    out = tmp_path / "out"
    proc = run_cli("analyze", str(fake), str(media / "jfk" / "jfk.flac"), "-o", str(out),
                   "--set", "encoders.enabled=false")
    assert proc.returncode == 2
    assert leftovers(out) == ["jfk.flac"]
    assert (out / "jfk.flac" / "events.jsonl").exists()


def test_analyze_without_input_runs_the_sample_clip(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "streamfuse", "analyze", "-o", str(tmp_path / "out"),
                           "--set", "encoders.people.enabled=false"],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "sample clip" in proc.stderr
    folder = tmp_path / "out" / "sample.mkv"
    assert f"results: {folder}" in proc.stdout and "scene.cut 1" in proc.stdout
    assert sorted(p.name for p in folder.iterdir()) == ["embeddings", "events.jsonl", "summary.json", "transcript.vtt",
                                                        "windows.jsonl"]


def test_models_lists_every_stage_offline(capsys):
    import json
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    stages = {r["stage"] for r in rows}
    assert {"faces", "people", "motion", "vad", "loudness", "asr", "text"} <= stages
    assert all(r["available"] for r in rows if r.get("enabled", True)), rows


def test_truncated_file_is_analysed_as_far_as_readable(tmp_path):
    from streamfuse.testing.media import make_truncated_clip
    truth = make_truncated_clip(tmp_path / "cut.mkv", duration=4.0)
    proc = run_cli("analyze", str(truth.path), "-o", str(tmp_path / "out"), "--set", "encoders.enabled=false")
    assert_one_line_error(proc, "cut.mkv", "truncated")
    summary = __import__("json").loads((tmp_path / "out" / "cut.mkv" / "summary.json").read_text())
    assert summary["decode"]["truncated"] and summary["media_seconds"] < float(truth.duration)


def test_truncated_mp4_without_index_is_bad_input(tmp_path):
    from streamfuse.testing.media import make_truncated_clip
    truth = make_truncated_clip(tmp_path / "cut.mp4", duration=4.0)
    proc = run_cli("analyze", str(truth.path), "-o", str(tmp_path / "out"))
    assert_one_line_error(proc, "cut.mp4", "truncated before its index")
    assert leftovers(tmp_path / "out") == []


def test_corrupt_stretch_warns_and_analyses_the_rest(tmp_path):
    from streamfuse.testing.media import make_corrupt_clip
    truth = make_corrupt_clip(tmp_path / "bad.ts")
    proc = run_cli("analyze", str(truth.path), "-o", str(tmp_path / "out"), "--set", "encoders.enabled=false")
    assert proc.returncode == 0, proc.stderr
    assert "warning: bad.ts: skipped damaged data" in proc.stderr and "Traceback" not in proc.stderr
    windows = [__import__("json").loads(x) for x in (tmp_path / "out" / "bad.ts" / "windows.jsonl").read_text().splitlines()]
    assert any("damaged" in w for w in windows) and windows[-1]["end"] >= float(truth.duration)


def test_http_url_and_subtitles_option(tmp_path, media):
    import functools
    import http.server
    import threading
    from streamfuse.testing.media import make_video_only_clip
    make_video_only_clip(tmp_path / "clip.mkv", duration=2.0)
    (tmp_path / "notes.srt").write_text("1\n00:00:00,500 --> 00:00:01,500\nhello from the side\n")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/clip.mkv"
        proc = run_cli("analyze", url, "-o", str(tmp_path / "out"), "--subtitles", str(tmp_path / "notes.srt"),
                       "--set", "encoders.enabled=false")
    finally:
        server.shutdown()
        thread.join()
    assert proc.returncode == 0, proc.stderr
    vtt = (tmp_path / "out" / "clip.mkv" / "transcript.vtt").read_text()
    assert "00:00:00.500 --> 00:00:01.500" in vtt and "hello from the side" in vtt


# ---------------------------------------------------------------- hostile input (issue 13)
#
# Each case builds its bad input in code, runs the CLI as a subprocess under a time and an address
# space limit (streamfuse.testing.bounded), and checks the exit code, the one line, the time, the
# peak memory and that OUT holds no half-written result. Bounds are generous (a loaded 2-core
# machine); what they catch is an unbounded allocation (gigabytes) or a hang (minutes).

import struct  # noqa: E402
import time  # noqa: E402

import av  # noqa: E402
import numpy as np  # noqa: E402

from streamfuse.testing.bounded import run_bounded  # noqa: E402

MEMORY_MB = 2048  # address space for decoding only (encoders off): the interpreter, PyAV, numpy, threads
PEAK_MB = 600
SECONDS = 60
DECODE_ONLY = ("--set", "encoders.enabled=false", "--no-progress")


def hostile(*args: str, timeout: float = SECONDS):
    """``streamfuse ARGS`` under the bounds; asserts them and that nothing crashed."""
    run = run_bounded([sys.executable, "-m", "streamfuse", *args], timeout=timeout, memory_mb=MEMORY_MB)
    assert not run.timed_out, f"still running after {timeout} s: {run.stderr[-2000:]}"
    assert run.peak_mb < PEAK_MB, f"peak memory {run.peak_mb:.0f} MB"
    assert "Traceback" not in run.stderr and "internal error" not in run.stderr, run.stderr
    return run


def one_error(run, *needles: str) -> str:
    assert run.returncode == 2, run.stderr
    assert len(run.error_lines) == 1, run.stderr
    for needle in needles:
        assert needle in run.error_lines[0], run.error_lines[0]
    return run.error_lines[0]


def no_partial(out: Path) -> None:
    """No hidden half-written folder is left in OUT (results are written atomically)."""
    from streamfuse.archive.journal import ARCHIVE_STATE
    assert not [p.name for p in out.iterdir() if p.name.startswith(".") and p.name not in ARCHIVE_STATE] \
        if out.exists() else True


def windows_of(folder: Path) -> list[dict]:
    import json
    return [json.loads(line) for line in (folder / "windows.jsonl").read_text().splitlines()]


def _wav_with(tmp_path: Path, name: str, **fields) -> Path:
    """A valid 16 kHz mono WAV from streamfuse.testing whose 'fmt ' header says something else."""
    from streamfuse.testing.media import make_audio_only_clip
    path = make_audio_only_clip(tmp_path / name, duration=1.0).path
    data = bytearray(path.read_bytes())
    at = data.index(b"fmt ") + 8
    tag, channels, rate, byte_rate, align, bits = struct.unpack("<HHIIHH", data[at:at + 16])
    values = dict(channels=channels, rate=rate, byte_rate=byte_rate, align=align) | fields
    data[at:at + 16] = struct.pack("<HHIIHH", tag, values["channels"], values["rate"], values["byte_rate"],
                                   values["align"], bits)
    path.write_bytes(data)
    return path


def test_damaged_metadata_is_read_tolerantly(tmp_path):
    from streamfuse.testing.media import make_video_only_clip
    truth = make_video_only_clip(tmp_path / "tags.mp4", duration=2.0)
    data = bytearray(truth.path.read_bytes())
    at = data.index(b"Lavf")  # the encoder tag in the header: invalid UTF-8 from here
    data[at:at + 16] = b"\xff\xfe\xc3\x28" * 4
    truth.path.write_bytes(data)
    with pytest.raises(UnicodeDecodeError):
        av.open(str(truth.path))  # the fixture is what it claims: strict decoding fails on it
    out = tmp_path / "out"
    run = hostile("analyze", str(truth.path), "-o", str(out), *DECODE_ONLY)
    assert run.returncode == 0, run.stderr
    assert windows_of(out / "tags.mp4")[-1]["end"] >= float(truth.duration)
    no_partial(out)


def test_impossible_sample_rate_is_refused_before_allocating(tmp_path):
    wav = _wav_with(tmp_path, "rate.wav", rate=2**31 - 1)
    out = tmp_path / "out"
    run = hostile("analyze", str(wav), "-o", str(out), *DECODE_ONLY)
    one_error(run, "rate.wav", "sample rate of 2147483647 Hz", "header is damaged")
    assert leftovers(out) == []


@pytest.mark.parametrize("channels, needle", [(65, "65 channels; at most 64"), (1024, "no usable channel layout")])
def test_impossible_channel_counts_name_the_reason(tmp_path, channels, needle):
    wav = _wav_with(tmp_path, f"ch{channels}.wav", channels=channels, align=2 * channels,
                    byte_rate=2 * channels * 16000)
    out = tmp_path / "out"
    run = hostile("analyze", str(wav), "-o", str(out), *DECODE_ONLY)
    one_error(run, f"ch{channels}.wav", needle)
    assert leftovers(out) == []


def test_impossible_frame_size_names_the_reason(tmp_path):
    path = tmp_path / "huge.avi"
    with av.open(str(path), "w") as out_file:
        stream = out_file.add_stream("rawvideo", rate=25)
        stream.width, stream.height, stream.pix_fmt = 64, 64, "yuv420p"
        for i in range(10):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), 20 * i, np.uint8), format="rgb24")
            frame.pts = i
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                out_file.mux(packet)
    data = bytearray(path.read_bytes())
    for tag, offset in ((b"strf", 12), (b"avih", 40)):  # biWidth, biHeight; dwWidth, dwHeight
        at = data.index(tag) + offset
        data[at:at + 8] = struct.pack("<ii", 100_000, 100_000)
    path.write_bytes(data)
    out = tmp_path / "out"
    run = hostile("analyze", str(path), "-o", str(out), *DECODE_ONLY)
    one_error(run, "huge.avi", "no usable frame size")
    assert leftovers(out) == []


def test_a_255_byte_file_name_is_analysed(tmp_path):
    from streamfuse.testing.media import make_video_only_clip
    name = "n" * 251 + ".mkv"
    truth = make_video_only_clip(tmp_path / name, duration=1.0)
    out = tmp_path / "out"
    run = hostile("analyze", str(truth.path), "-o", str(out), *DECODE_ONLY)
    assert run.returncode == 0, run.stderr
    assert leftovers(out) == [name]
    assert {"events.jsonl", "summary.json", "transcript.vtt", "windows.jsonl"} <= {p.name for p in (out / name).iterdir()}
    run = hostile("analyze", str(truth.path), "-o", str(out), *DECODE_ONLY)  # again: replaces the result
    assert run.returncode == 0, run.stderr
    assert leftovers(out) == [name]


def test_a_flood_of_subtitle_cues_is_capped_with_a_warning(tmp_path):
    import json
    import pysubs2
    from streamfuse.testing.media import make_video_only_clip
    truth = make_video_only_clip(tmp_path / "short.mkv", duration=3.0)
    subs = pysubs2.SSAFile()
    for i in range(10_000):  # 10,000 cues inside the 3 s ...
        subs.append(pysubs2.SSAEvent(start=i * 3000 // 10_000, end=i * 3000 // 10_000 + 200, text=f"cue {i}"))
    for i in range(10_000):  # ... and 10,000 long after it
        subs.append(pysubs2.SSAEvent(start=10_000 + i * 1000, end=10_500 + i * 1000, text=f"late {i}"))
    srt = tmp_path / "flood.srt"
    subs.save(str(srt))
    out = tmp_path / "out"
    run = hostile("analyze", str(truth.path), "--subtitles", str(srt), "-o", str(out), *DECODE_ONLY)
    assert run.returncode == 0, run.stderr
    assert "10000 subtitle cue(s) start after the media ends" in run.stderr
    assert "subtitles: kept 100 of 10000 cues" in run.stderr
    summary = json.loads((out / "short.mkv" / "summary.json").read_text())
    assert summary["events"]["transcript"] == 100  # max(100, 10 a second * 3 s)
    assert windows_of(out / "short.mkv")[-1]["end"] <= 4.0  # the late cues did not stretch the analysis
    no_partial(out)


def _blank_block_header(path: Path, out: Path) -> float:
    """``path`` (Matroska) with the header of the block nearest its middle zeroed into ``out``;
    returns where plain FFmpeg stops reading it (it recovers only at the next cluster)."""
    data = bytearray(path.read_bytes())
    with av.open(str(path)) as c:
        middle = c.duration / 2_000_000
        packets = [(p.pos, p.pts * p.time_base) for p in c.demux() if p.pts is not None]
    pos, _ = min(packets, key=lambda p: abs(p[1] - middle))
    data[pos - 4:pos + 28] = bytes(32)  # the SimpleBlock id and size just before the packet data
    out.write_bytes(data)
    with av.open(str(out)) as c:
        return max(float(p.pts * p.time_base) for p in c.demux() if p.pts is not None)


def test_corrupt_bytes_in_the_middle_of_an_mkv_are_skipped_and_reported(tmp_path, media):
    clip = media / "asl" / "book.mkv"  # one cluster, one keyframe: FFmpeg alone stops at the damage
    bad = tmp_path / "book.mkv"
    stops = _blank_block_header(clip, bad)
    with av.open(str(clip)) as c:
        duration = c.duration / 1_000_000
    assert stops < 0.6 * duration
    out = tmp_path / "out"
    run = hostile("analyze", str(bad), "-o", str(out), *DECODE_ONLY)
    assert run.returncode == 0, run.stderr
    warnings = [ln for ln in run.stderr.splitlines() if "skipped damaged data" in ln]
    assert len(warnings) == 1 and "unreadable data skipped" in warnings[0], run.stderr
    a, b = (float(x) for x in warnings[0].split(" at ")[1].split(" s ")[0].split("-"))
    assert 0.3 * duration < a < b < 0.7 * duration  # the damaged span, around the middle
    records = windows_of(out / "book.mkv")
    assert records[-1]["end"] >= duration - 0.5 and "video" in records[-1]["modalities"]  # the rest analysed
    no_partial(out)
    # and the frames read past the damage keep their exact times: those of the intact file
    from streamfuse.config.pipeline import DecodeConfig
    from streamfuse.decode.demux import Demuxer
    from streamfuse.decode.payloads import VideoFrame
    from streamfuse.sources.resolve import resolve_inputs
    with av.open(str(clip)) as c:
        stream = c.streams.video[0]
        intact = {f.pts * stream.time_base - stream.start_time * stream.time_base for f in c.decode(stream)}
    every_frame = DecodeConfig(fps=0, skip_frames="none")
    times = [i.time for i in Demuxer(resolve_inputs([str(bad)])[0], every_frame) if isinstance(i, VideoFrame)]
    assert set(times) <= intact and max(times) == max(intact)
    lost = intact - set(times)
    assert 0 < len(lost) <= 8 and all(a <= t < b for t in lost)  # a few frames, inside the reported span


def test_a_truncated_mpeg_ps_without_index_is_reported(tmp_path, media):
    data = (media / "grid" / "bbaf2n.mpg").read_bytes()
    cut = tmp_path / "half.mpg"
    cut.write_bytes(data[:len(data) // 2])  # MPEG-PS: no index, FFmpeg estimates 1.5 s from what is left
    out = tmp_path / "out"
    run = hostile("analyze", str(cut), "-o", str(out), *DECODE_ONLY)
    line = one_error(run, "half.mpg", "file is truncated; media ends at 1.5")
    assert " of " not in line  # there is no known full length to compare with
    assert (out / "half.mpg" / "events.jsonl").exists()  # what was readable is a complete result
    no_partial(out)


def _config_error(capsys, *sets: str) -> str:
    """``analyze x.mp4 --set ...`` in this process (configuration is checked before anything is
    opened): exit 2 with one line, within a second and 10 MB of Python allocations."""
    import tracemalloc
    args = ["analyze", "x.mp4"] + [a for s in sets for a in ("--set", s)]
    tracemalloc.start()
    start = time.monotonic()
    try:
        code = main(args)
        seconds, (_, peak) = time.monotonic() - start, tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    err = capsys.readouterr().err
    assert code == 2 and seconds < 1.0 and peak < 10 << 20, (code, seconds, peak, err)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("streamfuse: error:") and "Traceback" not in err, err
    return lines[0]


def test_exponent_notation_reaches_the_range_check(capsys):
    assert "window.length: 1e+09 is out of range, must be <= 3600" in _config_error(capsys, "window.length=1e9")
    assert "window.hop: expected a finite number" in _config_error(capsys, "window.hop=.nan")
    assert "decode.width: 1e+06 is out of range" in _config_error(capsys, "decode.width=1e6")


def test_a_bare_string_where_a_list_is_declared_is_a_type_error(capsys):
    line = _config_error(capsys, "fusion.keywords.phrases=notalist")
    assert "fusion.keywords.phrases: expected a list" in line and "[notalist]" in line


def test_an_unreachable_redis_sink_suggests_an_option_that_exists(tmp_path):
    sink = f"redis://127.0.0.1:{free_port()}/0"
    feed = f"rtsp://127.0.0.1:{free_port()}/cam"  # never reached: the sink is refused first
    run = hostile("watch", feed, "--sink", sink, "--set", f"sinks.buffer_dir={tmp_path / 'buffers'}")
    line = one_error(run, "cannot reach redis://127.0.0.1")
    suggestion = line.split("--set ")[1].split()[0]
    assert suggestion == "sinks.connect_at_start=false"
    # the suggested option is real: with it the sink starts buffering, and what fails is the feed
    run = hostile("watch", feed, "--sink", sink, "--set", suggestion, "--set", f"sinks.buffer_dir={tmp_path / 'buffers'}",
                  "--set", "live.connect_timeout=2", "--set", "encoders.enabled=false")  # the bounds are for decoding
    one_error(run, "127.0.0.1")
    assert "cannot reach redis" not in run.stderr
    assert any((tmp_path / "buffers").iterdir())  # the sink's buffer, in the configured folder
