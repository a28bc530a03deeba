"""Events for tests of sinks, servers and subscribers: valid CloudEvents, and a bounded reader."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterable

from ..events import durative_types, make_event, validate_event


def build_events(n: int, *, source_id: str = "cam1", start_seq: int = 0,
                 types: tuple[str, ...] = ("speech", "scene.cut", "person"), texts: list[str] | None = None,
                 pad: int = 0) -> list[dict[str, Any]]:
    """``n`` valid events numbered from ``start_seq``, cycling through ``types`` (instant events, or
    the ``start`` of a series for durative types); the subject carries credentials, which must come
    out redacted."""
    durative = durative_types()
    out = []
    for i in range(start_seq, start_seq + n):
        kind = types[i % len(types)]
        event = make_event(source_id=source_id, subject="rtsp://user:secret@cam/stream", type=kind,
                           seq=i, phase="start" if kind in durative else "instant", event_id=f"{source_id}-e{i}",
                           start=i * 0.5, end=i * 0.5 + 0.5,
                           confidence=(i % 10) / 10, modalities=["audio"],
                           text=texts[i % len(texts)] if texts else f"event number {i}",
                           evidence={"pad": "x" * pad} if pad else None)
        validate_event(event)
        out.append(event)
    return out


async def take(events: AsyncIterable[dict[str, Any]], n: int, timeout: float) -> list[dict[str, Any]]:
    """Up to ``n`` events from an async iterator, waiting at most ``timeout`` seconds in all."""
    got: list[dict[str, Any]] = []

    async def run() -> None:
        async for event in events:
            got.append(event)
            if len(got) == n:
                return
    try:
        await asyncio.wait_for(run(), timeout)
    except asyncio.TimeoutError:
        pass
    return got
