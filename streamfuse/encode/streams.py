"""Telling a new stream from the next window of the same one (shared by stateful encoders)."""

from __future__ import annotations

from ..align.window import Window


class StreamTracker:
    """Notices when windows start a new stream: index 0, another source, or time going backwards."""

    def __init__(self) -> None:
        self._last: tuple[str, int, object] | None = None

    def is_new(self, window: Window) -> bool:
        last = self._last
        self._last = (window.source_id, window.index, window.start)
        return (last is None or window.index == 0 or window.source_id != last[0]
                or window.index <= last[1] or window.start < last[2])  # type: ignore[operator]
