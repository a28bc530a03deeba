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
    assert sorted(p.name for p in folder.iterdir()) == ["events.jsonl", "summary.json", "transcript.vtt", "windows.jsonl"]


def test_models_lists_every_stage_offline(capsys):
    import json
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    stages = {r["stage"] for r in rows}
    assert {"faces", "people", "motion", "vad", "loudness", "asr", "text"} <= stages
    assert all(r["available"] for r in rows if r.get("enabled", True)), rows
