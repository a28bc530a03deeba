"""Shared set-up of the archive tests: small folders of real clips, and the CLI in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

#: decode and align only: the batch machinery is under test, not the encoders
DECODE_ONLY = ("--set", "encoders.enabled=false", "--set", "runtime.source_worker=thread")
#: words from subtitles, sentence embeddings, nothing else heavy (the search tests need text)
TEXT_ONLY = tuple(a for key in ("asr", "people", "objects", "sounds", "faces", "vad")
                  for a in ("--set", f"encoders.{key}.enabled=false"))
RESULT_FILES = {"events.jsonl", "windows.jsonl", "transcript.vtt", "summary.json"}


def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamfuse", *args], capture_output=True, text=True,
                          timeout=timeout, env=dict(os.environ, HF_HUB_OFFLINE="1"))


def results(out: Path) -> dict[str, Path]:
    """The committed result folders in OUT by name."""
    return {p.name: p for p in out.iterdir() if p.is_dir() and not p.name.startswith(".")} if out.exists() else {}


def hidden_leftovers(out: Path) -> list[str]:
    return [p.name for p in out.iterdir() if p.name.startswith(".") and p.name != ".streamfuse"]


def events(folder: Path) -> list[dict]:
    return [json.loads(x) for x in (folder / "events.jsonl").read_text().splitlines() if x.strip()]


@pytest.fixture
def asl_dir(media, tmp_path) -> Path:
    """A folder of six short real clips (2-4 s each)."""
    folder = tmp_path / "archive"
    folder.mkdir()
    for clip in sorted((media / "asl").glob("*.mkv"))[:6]:
        shutil.copy(clip, folder / clip.name)
    return folder
