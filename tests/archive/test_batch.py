"""A batch over a folder: reruns skip what is done for the same content and configuration, a killed
run resumes without redoing finished files or leaving half a result, bad files are reported."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

from .conftest import DECODE_ONLY, RESULT_FILES, cli, hidden_leftovers, results


def mtimes(out):
    return {name: (folder / "summary.json").stat().st_mtime_ns for name, folder in results(out).items()}


def test_rerun_skips_done_inputs_and_redoes_changed_content_or_config(asl_dir, tmp_path):
    out = tmp_path / "out"
    first = cli("analyze", str(asl_dir), "-o", str(out), *DECODE_ONLY)
    assert first.returncode == 0, first.stderr
    names = sorted(p.name for p in asl_dir.iterdir())
    assert sorted(results(out)) == names
    assert "6 analysed" in first.stderr and "0 already done" in first.stderr
    before = mtimes(out)

    again = cli("analyze", str(asl_dir), "-o", str(out), *DECODE_ONLY)
    assert again.returncode == 0, again.stderr
    assert "0 analysed" in again.stderr and "6 already done" in again.stderr
    assert mtimes(out) == before  # nothing rewritten

    # new content under the same name: only that input is redone
    changed = asl_dir / names[0]
    shutil.copy(asl_dir / names[1], changed)
    third = cli("analyze", str(asl_dir), "-o", str(out), *DECODE_ONLY)
    assert "1 analysed" in third.stderr and "5 already done" in third.stderr, third.stderr
    after = mtimes(out)
    assert after[names[0]] != before[names[0]] and all(after[n] == before[n] for n in names[1:])

    # a setting that changes results: everything is redone
    fourth = cli("analyze", str(asl_dir), "-o", str(out), *DECODE_ONLY, "--set", "window.length=3")
    assert "6 analysed" in fourth.stderr, fourth.stderr


def test_killed_run_resumes_where_it_stopped_and_never_half_writes(asl_dir, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "streamfuse", "analyze", str(asl_dir), "-o", str(out),
                             *DECODE_ONLY], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(os.environ, HF_HUB_OFFLINE="1"))
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None and len(results(out)) < 2:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    finally:
        proc.kill()
    done = results(out)
    assert 2 <= len(done) < 6
    for folder in done.values():  # every visible result is complete
        assert RESULT_FILES <= {p.name for p in folder.iterdir()}
        json.loads((folder / "summary.json").read_text())
    before = mtimes(out)

    resumed = cli("analyze", str(asl_dir), "-o", str(out), *DECODE_ONLY)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{6 - len(done)} analysed" in resumed.stderr and f"{len(done)} already done" in resumed.stderr
    assert sorted(results(out)) == sorted(p.name for p in asl_dir.iterdir())
    assert all(mtimes(out)[n] == t for n, t in before.items())  # finished files were not redone
    assert hidden_leftovers(out) == []  # the killed run's partial folder was cleaned up


def test_bad_files_are_reported_counted_and_the_batch_goes_on(asl_dir, tmp_path):
    (asl_dir / "broken.mkv").write_bytes(b"\x1aE\xdf\xa3" + b"\x00" * 2000)
    (asl_dir / "empty.mp4").write_bytes(b"")
    names = sorted(p.name for p in asl_dir.glob("*.mkv") if p.name != "broken.mkv")[:3] + ["broken.mkv", "empty.mp4"]
    (asl_dir / "inputs.txt").write_text("# my archive\n\n" + "\n".join(names) + "\n")
    out = tmp_path / "out"
    proc = cli("analyze", str(asl_dir / "inputs.txt"), "-o", str(out), *DECODE_ONLY)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert "2 failed" in proc.stderr and "3 analysed" in proc.stderr
    failed = [ln for ln in proc.stderr.splitlines() if ln.startswith("streamfuse: failed:")]
    assert len(failed) == 2 and any("broken.mkv" in ln for ln in failed) and any("empty.mp4" in ln for ln in failed)
    assert len(results(out)) == 3 and hidden_leftovers(out) == []
    report = json.loads((out / ".streamfuse" / "last-batch.json").read_text())
    assert report["failed"] == 2 and {f["input"].rsplit("/", 1)[-1] for f in report["failures"]} == {
        "broken.mkv", "empty.mp4"}


def test_one_batch_per_output_folder(asl_dir, tmp_path):
    import pytest

    from streamfuse.archive.journal import Journal
    from streamfuse.errors import ConfigError
    out = tmp_path / "out"
    with Journal(out), pytest.raises(ConfigError, match="being written by another"):
        Journal(out)
    proc_out = cli("analyze", str(asl_dir), "-o", str(out), *DECODE_ONLY)
    assert proc_out.returncode == 0
