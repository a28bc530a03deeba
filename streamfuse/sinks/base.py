"""The sink contract: where events go.

A sink receives events (CloudEvents dicts, see :mod:`streamfuse.events`) in emission order from one
thread. ``emit`` must not block for long (a slow or unreachable destination buffers, bounded, and
reports what it could not keep); ``flush`` waits until everything accepted so far is delivered or
buffered durably; ``close`` flushes and releases resources. ``stats`` reports counters for
``/metrics`` and for the end-of-run summary.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable


@runtime_checkable
class EventSink(Protocol):
    name: str

    def emit(self, event: dict[str, Any]) -> None: ...

    def flush(self, timeout: float | None = None) -> None: ...

    def close(self) -> None: ...

    def stats(self) -> dict[str, int | float]: ...
