"""What a batch is made of: inputs expanded (list files too), and the key a result is made from.

A *list file* (``.txt``, ``.list``, ``.lst``) names one input per line (files, folders, globs or
URLs; blank lines and ``#`` comments skipped; relative paths are relative to the list file).

A result is *complete for the same content and configuration* when its ``summary.json`` carries
the same :func:`result_key`: a hash of the input's bytes (:func:`content_hash`) and of the parts of
the configuration that change results (:func:`config_hash`; where it runs and where it writes do not).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from ..config.loader import as_dict
from ..config.pipeline import PipelineConfig
from ..errors import SourceNotFoundError

LIST_SUFFIXES = frozenset({".txt", ".list", ".lst"})
#: configuration sections that do not change what a result holds
_NOT_RESULT_SECTIONS = ("runtime", "output", "live", "sinks", "archive")
_CHUNK = 1 << 20


def expand_list_files(inputs: list[str]) -> list[str]:
    """Replace every list file in ``inputs`` by the inputs it names, in order."""
    out: list[str] = []
    for text in inputs:
        path = Path(text)
        if path.suffix.lower() in LIST_SUFFIXES and "://" not in text:
            if not path.is_file():
                raise SourceNotFoundError(f"{text}: no such list file; check the path")
            for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                if "://" in line or os.path.isabs(line):
                    out.append(line)
                else:
                    out.append(str(path.parent / line))
        else:
            out.append(text)
    return out


def content_hash(path: str | os.PathLike[str]) -> str:
    """BLAKE2b-128 of the file's bytes (streamed; memory stays flat)."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def config_hash(config: PipelineConfig) -> str:
    """A hash of the configuration sections that change results."""
    from .. import __version__
    sections = {k: v for k, v in as_dict(config).items() if k not in _NOT_RESULT_SECTIONS}
    text = json.dumps({"version": __version__, "config": sections}, sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


def result_key(content: str, config: str) -> str:
    return f"{content}:{config}"


def committed_key(folder: Path) -> str | None:
    """The key recorded in ``folder/summary.json``, or None when the result is absent or unreadable."""
    try:
        summary: Any = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
        return summary.get("archive", {}).get("key")
    except (OSError, ValueError, AttributeError):
        return None
