"""``streamfuse generate`` with a tiny random diffusers pipeline loaded from a folder: a valid PNG
of the asked size, the same picture for the same seed, one-line errors. Random weights: the
pictures are noise; the command's behaviour is what is tested."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np


def _generate(folder, out, *extra):
    return subprocess.run([sys.executable, "-m", "streamfuse", "generate", "a red car on a road", "-o", str(out),
                           "--model", str(folder), "--steps", "2", *extra], capture_output=True, text=True,
                          timeout=300)


def test_generate_writes_a_png_of_the_size_asked_and_is_deterministic_for_a_seed(tiny_diffusion, tmp_path):
    a, b, c = tmp_path / "a.png", tmp_path / "b.png", tmp_path / "c.png"
    for out, seed in ((a, "7"), (b, "7"), (c, "8")):
        proc = _generate(tiny_diffusion, out, "--seed", seed, "--size", "64x48")
        assert proc.returncode == 0, proc.stderr
    pictures = [cv2.imread(str(p), cv2.IMREAD_UNCHANGED) for p in (a, b, c)]
    assert a.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert all(p.shape == (48, 64, 3) and p.dtype == np.uint8 for p in pictures)
    assert np.array_equal(pictures[0], pictures[1])
    assert not np.array_equal(pictures[0], pictures[2])
    assert not list(tmp_path.glob(".*partial"))


def test_generate_errors_are_one_line_and_write_nothing(tiny_diffusion, tmp_path):
    out = tmp_path / "x.png"
    for extra, needle in ((("--size", "60x48"), "multiples of 8"), (("--model", str(tmp_path / "none")), "generate model")):
        proc = _generate(tiny_diffusion, out, *extra)
        lines = [x for x in proc.stderr.splitlines() if x.strip()]
        assert proc.returncode == 2 and len(lines) == 1 and needle in lines[0], proc.stderr
        assert not out.exists()
