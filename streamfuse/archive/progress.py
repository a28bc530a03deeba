"""Batch progress: a bar on a terminal (files, media hours done, real-time factor, ETA), plain lines
otherwise (one per finished or skipped input, to stderr)."""

from __future__ import annotations

import sys
import time

from tqdm import tqdm


class Progress:
    def __init__(self, total: int, enabled: bool, stream=None) -> None:
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = enabled and getattr(self.stream, "isatty", lambda: False)()
        self.plain = enabled and not self.tty
        self.workers = 1
        self.t0 = time.perf_counter()
        self.media = 0.0
        self.finished = 0  # analysed or failed in this run
        self.count = 0  # including skipped
        self.failed = 0
        self._bar = tqdm(total=total, unit="file", desc="", file=self.stream, disable=not self.tty,
                         dynamic_ncols=True, bar_format="archive: {n}/{total} files |{bar}| {desc}")

    def _postfix(self) -> str:
        wall = time.perf_counter() - self.t0
        rtf = self.media / wall if wall > 0 else 0.0
        left = self.total - self.count
        eta = wall / self.finished * left if self.finished else None
        eta_text = "?" if eta is None else (f"{eta:.0f} s" if eta < 120 else f"{eta / 60:.1f} min")
        failed = f", {self.failed} failed" if self.failed else ""
        return f"{self.media / 3600:.3f} h media, {rtf:.1f}x real time, ETA {eta_text}{failed}"

    def skip(self, name: str) -> None:
        self.count += 1
        self._bar.update(1)
        self._bar.set_description_str(self._postfix())
        if self.plain:
            print(f"[{self.count}/{self.total}] {name}: already done, skipped", file=self.stream, flush=True)

    def done(self, name: str, media: float, ok: bool, note: str | None = None) -> None:
        self.count += 1
        self.finished += 1
        self.media += media
        self.failed += 0 if ok else 1
        self._bar.update(1)
        self._bar.set_description_str(self._postfix())
        if self.plain:
            state = f"{media:.1f} s of media" if ok else "FAILED"
            print(f"[{self.count}/{self.total}] {name}: {state}; {self._postfix()}", file=self.stream, flush=True)

    def refresh(self) -> None:
        if self.tty:
            self._bar.set_description_str(self._postfix())

    def close(self) -> None:
        self._bar.close()
