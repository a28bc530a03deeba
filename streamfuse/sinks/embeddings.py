"""The binary sidecar of window embeddings: ``embeddings/<name>.npy`` beside ``windows.jsonl``.

Each named embedding (``text.window``, ``<encoder>.<name>``) becomes two NumPy files: ``<name>.npy``,
an ``n x d`` float32 array (one row per window that has it), and ``<name>.windows.npy``, the int64
window indices of those rows (the ``index`` of the window's line in ``windows.jsonl``). They load
with ``numpy.load(path, mmap_mode="r")``. Rows are streamed to disk as windows come, so memory stays
flat on long input; the headers are written when the result is committed.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

FOLDER = "embeddings"
_SAFE = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")


def _check_name(name: str) -> str:
    if not name or not set(name) <= _SAFE or name.startswith("."):
        raise ValueError(f"embedding name {name!r} must be letters, digits, '.', '_' or '-'")
    return name


class EmbeddingWriter:
    """Appends window vectors per name into ``folder`` (raw rows while running, ``.npy`` on :meth:`finish`)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._raw: dict[str, tuple[object, int]] = {}  # name -> (open raw file, width)
        self._windows: dict[str, list[int]] = {}

    def add(self, window_index: int, vectors: dict[str, np.ndarray]) -> None:
        for name, vector in vectors.items():
            name = _check_name(name)
            vector = np.ascontiguousarray(vector, dtype="<f4").reshape(-1)
            if name not in self._raw:
                self.folder.mkdir(parents=True, exist_ok=True)
                self._raw[name] = (open(self.folder / f"{name}.f32", "wb"), len(vector))
                self._windows[name] = []
            fh, width = self._raw[name]
            if len(vector) != width:
                raise ValueError(f"embedding {name!r} changed width from {width} to {len(vector)}")
            fh.write(vector.tobytes())  # type: ignore[attr-defined]
            self._windows[name].append(window_index)

    def finish(self) -> list[Path]:
        """Write the ``.npy`` files (fsynced); returns them."""
        out = []
        for name, (fh, width) in self._raw.items():
            fh.close()  # type: ignore[attr-defined]
            raw = self.folder / f"{name}.f32"
            rows = len(self._windows[name])
            target = self.folder / f"{name}.npy"
            with open(raw, "rb") as src, open(target, "wb") as dst:
                np.lib.format.write_array_header_1_0(
                    dst, {"descr": np.lib.format.dtype_to_descr(np.dtype("<f4")), "fortran_order": False,
                          "shape": (rows, width)})
                shutil.copyfileobj(src, dst, 1 << 20)
                dst.flush()
                os.fsync(dst.fileno())
            raw.unlink()
            index = self.folder / f"{name}.windows.npy"
            np.save(index, np.asarray(self._windows[name], dtype=np.int64))
            out += [target, index]
        self._raw.clear()
        return out

    def abort(self) -> None:
        for fh, _ in self._raw.values():
            fh.close()  # type: ignore[attr-defined]
        self._raw.clear()


def load_embeddings(result: str | os.PathLike[str], name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(vectors n x d, window indices n)`` of embedding ``name`` in a result folder (memory-mapped)."""
    folder = Path(result) / FOLDER
    return (np.load(folder / f"{_check_name(name)}.npy", mmap_mode="r"),
            np.load(folder / f"{name}.windows.npy"))
