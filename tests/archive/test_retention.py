"""Retention: ``archive.max_bytes`` and ``archive.max_age_days`` remove the oldest results (and their
index rows and report pages), report them, never touch this batch's results, never half-delete."""

from __future__ import annotations

import os
import time

from .conftest import DECODE_ONLY, cli, results

TEXTLESS = DECODE_ONLY


def _age(folder, days: float) -> None:
    t = time.time() - days * 86400
    os.utime(folder / "summary.json", (t, t))


def test_size_bound_removes_the_oldest_results_first_and_reports_them(asl_dir, tmp_path):
    from streamfuse.archive.index import open_index
    out = tmp_path / "out"
    assert cli("analyze", str(asl_dir), "-o", str(out), *TEXTLESS).returncode == 0
    assert cli("report", str(out), "--no-thumbnails").returncode == 0
    names = sorted(results(out))
    names.remove("report")
    for i, name in enumerate(names):  # names[0] the oldest
        _age(out / name, 10 - i)
    sizes = {n: sum(p.stat().st_size for p in (out / n).rglob("*") if p.is_file()) for n in names}
    index_bytes = sum(p.stat().st_size for p in out.glob("index.sqlite*"))
    bound = sum(sizes.values()) + index_bytes - sizes[names[0]] - sizes[names[1]] // 2  # two must go

    new = tmp_path / "new"
    new.mkdir()
    (new / "fresh.mkv").write_bytes((asl_dir / names[2]).read_bytes())
    proc = cli("analyze", str(new), "-o", str(out), *TEXTLESS, "--set", f"archive.max_bytes={bound}")
    assert proc.returncode == 0, proc.stderr
    removed = [ln.split()[2] for ln in proc.stderr.splitlines() if ln.startswith("streamfuse: removed:")]
    assert removed[:2] == names[:2], proc.stderr  # oldest first
    assert "fresh.mkv" not in removed and (out / "fresh.mkv" / "summary.json").exists()  # this batch's result stays
    left = set(results(out)) - {"report"}
    assert not left & set(removed) and [p.name for p in out.iterdir() if ".old-" in p.name] == []
    assert not any((out / "report" / f"{n}.html").exists() for n in removed)
    index = open_index(out)
    try:
        indexed = {r[0] for r in index.db.execute("SELECT name FROM sources")}
    finally:
        index.close()
    assert not indexed & set(removed) and "fresh.mkv" in indexed
    total = sum(p.stat().st_size for n in left for p in (out / n).rglob("*") if p.is_file())
    total += sum(p.stat().st_size for p in out.glob("index.sqlite*"))
    assert total <= bound + sum(p.stat().st_size for p in (out / "report").glob("*.html"))


def test_age_bound_and_a_removed_input_is_analysed_again(asl_dir, tmp_path):
    out = tmp_path / "out"
    assert cli("analyze", str(asl_dir), "-o", str(out), *TEXTLESS).returncode == 0
    old = sorted(results(out))[0]
    _age(out / old, 3)
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.mkv").write_bytes((asl_dir / old).read_bytes())
    proc = cli("analyze", str(other), "-o", str(out), *TEXTLESS, "--set", "archive.max_age_days=2")
    assert proc.returncode == 0 and f"streamfuse: removed: {old}" in proc.stderr and "max_age_days" in proc.stderr
    assert old not in results(out)
    again = cli("analyze", str(asl_dir), "-o", str(out), *TEXTLESS)
    assert "1 analysed" in again.stderr and (out / old / "summary.json").exists()
