"""A JSON-lines file sink with size-based rotation.

``events.jsonl`` grows to ``max_bytes``; then it becomes ``events.jsonl.1`` (the previous ``.1``
becomes ``.2``, and so on) and a new ``events.jsonl`` starts; at most ``keep`` rotated files stay.
One event per line, always whole lines (a line is never split across files). Lines reach the OS at
every emit; ``flush`` also fsyncs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from ..errors import ConfigError


class FileSink:
    """Append events to ``path`` as JSON lines, rotating by size."""

    def __init__(self, path: str | os.PathLike[str], *, max_bytes: int = 64 << 20, keep: int = 5) -> None:
        if max_bytes < 1024 or keep < 0:
            raise ConfigError("file sink: need max_bytes >= 1024 and keep >= 0")
        self.path = Path(path)
        self.name = f"file:{self.path.name}"
        self.max_bytes = int(max_bytes)
        self.keep = int(keep)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")
        except OSError as exc:
            raise ConfigError(f"cannot write events to {self.path}: {exc.strerror}; "
                              "choose a writable path") from None
        self._size = self._file.tell()
        self._written = 0
        self._rotations = 0

    def emit(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        if self._size and self._size + len(line) > self.max_bytes:
            self._rotate()
        self._file.write(line)
        self._file.flush()
        self._size += len(line)
        self._written += 1

    def flush(self, timeout: float | None = None) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())

    def close(self) -> None:
        if not self._file.closed:
            self.flush()
            self._file.close()

    def stats(self) -> dict[str, int | float]:
        return {"emitted": self._written, "delivered": self._written, "backlog": 0, "dropped": 0,
                "rotations": self._rotations, "bytes": self._size}

    def _rotate(self) -> None:
        self.flush()
        self._file.close()
        if self.keep == 0:
            self.path.unlink(missing_ok=True)
        else:
            Path(f"{self.path}.{self.keep}").unlink(missing_ok=True)
            for i in range(self.keep - 1, 0, -1):
                older = Path(f"{self.path}.{i}")
                if older.exists():
                    os.replace(older, f"{self.path}.{i + 1}")
            os.replace(self.path, f"{self.path}.1")
        self._file = open(self.path, "ab")
        self._size = 0
        self._rotations += 1
