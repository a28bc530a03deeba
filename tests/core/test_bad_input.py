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
    return sorted(p.name for p in out.iterdir()) if out.exists() else []


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
