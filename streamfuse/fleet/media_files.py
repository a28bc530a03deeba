"""The files a camera keeps beside its events (snapshots, clips): written atomically, bounded in number.

:class:`MediaFolder` is one camera's folder for one kind of file (``<dir>/<camera>/``). A file is
written to a temporary name in the folder, then renamed, so a reader (the event server, a user's
script) never sees half a file. At most ``max_files`` files with the folder's suffix are kept, the
oldest removed first; the files already there when the folder is opened (an earlier run's) count,
oldest by modification time, so the folder stays bounded across restarts.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from collections import OrderedDict
from pathlib import Path
from typing import Callable

from ..errors import ConfigError

log = logging.getLogger(__name__)
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def report_failure(what: str, count: int, exc: BaseException) -> None:
    """Log the 1st, 2nd, 4th, 8th... failure of ``what`` (bounded, and never silent)."""
    if count & (count - 1) == 0:
        log.warning("%s failed %d time%s (last: %s); the camera goes on without them", what, count,
                    "" if count == 1 else "s", exc)


def file_name(key: str, suffix: str) -> str:
    """A safe file name for an event id (anything but letters, digits, ``.``, ``_`` and ``-`` becomes ``_``)."""
    return _SAFE.sub("_", key).lstrip(".") + suffix


class MediaFolder:
    """One camera's folder (see the module docstring); one that cannot be made or written is a
    :class:`~streamfuse.errors.ConfigError` when it is opened. A write that fails later (a full
    disk) raises :class:`OSError` and leaves nothing behind."""

    def __init__(self, folder: Path, max_files: int, suffixes: tuple[str, ...], setting: str = "dir") -> None:
        self.folder = folder
        self.max_files = max_files
        self.suffixes = suffixes
        self._files: OrderedDict[Path, None] = OrderedDict()
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(f"{setting}: cannot make {folder} ({exc.strerror or exc})") from None
        if not os.access(folder, os.W_OK | os.X_OK):
            raise ConfigError(f"{setting}: cannot write to {folder} (permission denied)")
        if folder.is_dir():
            old = sorted((p for p in folder.iterdir() if p.suffix in suffixes and p.is_file()),
                         key=lambda p: p.stat().st_mtime_ns)
            for p in old:
                self._files[p] = None
            self._trim()

    def write(self, name: str, fill: Callable[[str], None]) -> Path:
        """Make ``<folder>/<name>``: ``fill(path)`` writes a temporary file, which is then renamed."""
        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.folder / name
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".part-", suffix=Path(name).suffix)
        os.close(fd)
        try:
            fill(tmp)
            os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes it private; the finished file is an ordinary one
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        self._files.pop(path, None)
        self._files[path] = None
        self._trim()
        return path

    def _trim(self) -> None:
        while len(self._files) > self.max_files:
            old, _ = self._files.popitem(last=False)
            old.unlink(missing_ok=True)


__all__ = ["MediaFolder", "file_name", "report_failure"]
