"""The delivery machinery every network sink shares.

``emit`` appends the event to the sink's :class:`~streamfuse.sinks.durable.DurableLog` and returns at
once; one background thread per sink takes the oldest unacknowledged events in batches, hands them to
a :class:`Transport`, and acknowledges in the log only what the destination acknowledged (in order).
While the destination is unreachable the thread backs off (capped exponential, with jitter) and the
log keeps the events, bounded; past the bound it drops the oldest and counts them (``dropped``).
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from hashlib import sha1
from pathlib import Path
from typing import Any, Protocol

from ..config.loader import sink_buffer_root
from ..errors import ConfigError, StreamfuseError
from .durable import DurableLog

log = logging.getLogger("streamfuse.sinks")


class TransportError(StreamfuseError, ConnectionError):
    """A destination that could not take a batch now (it is retried)."""


class Transport(Protocol):
    """A connection to one destination; used from the sink's delivery thread only."""

    #: the destination as it may be shown (credentials redacted)
    display: str

    def connect(self, timeout: float) -> None:
        """Connect (or wait for the client library's own reconnect); raise on failure."""

    @property
    def connected(self) -> bool: ...

    def publish(self, events: list[dict[str, Any]], timeout: float) -> int:
        """Send ``events`` in order; return how many, from the first, the destination acknowledged."""

    def close(self, timeout: float) -> None: ...


def default_buffer_dir(kind: str, display_uri: str, root: str | os.PathLike[str] | None = None) -> Path:
    """Where a sink keeps its buffer unless told: one folder per destination (named by a hash of the
    redacted URI, so no credential reaches the file system) inside ``root``, by default
    ``$STREAMFUSE_BUFFER_DIR`` or ``~/.local/state/streamfuse/buffers`` (see
    :func:`~streamfuse.config.loader.sink_buffer_root`)."""
    return Path(root or sink_buffer_root()) / f"{kind}-{sha1(display_uri.encode()).hexdigest()[:12]}"


class BufferedSink:
    """An :class:`~streamfuse.sinks.base.EventSink` that delivers through a :class:`Transport` with a
    durable, bounded buffer in between (at-least-once, in order)."""

    def __init__(self, name: str, transport: Transport, buffer: DurableLog, *, batch_size: int = 100,
                 publish_timeout: float = 10.0, backoff_initial: float = 0.1, backoff_max: float = 5.0,
                 close_timeout: float = 5.0) -> None:
        if batch_size < 1 or publish_timeout <= 0 or backoff_initial <= 0 or backoff_max < backoff_initial:
            raise ConfigError("sink options: need batch_size >= 1, publish_timeout > 0, "
                              "0 < backoff_initial <= backoff_max")
        self.name = name
        self.transport = transport
        self.buffer = buffer
        self.batch_size = batch_size
        self.publish_timeout = publish_timeout
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.close_timeout = close_timeout
        self._cond = threading.Condition()
        self._stop = False
        self._closed = False
        self._emitted = 0
        self._delivered = 0
        self._retries = 0
        self._reconnects = 0
        self._last_error = ""
        self._thread = threading.Thread(target=self._run, name=f"streamfuse-sink-{name}", daemon=True)
        self._thread.start()

    # ---------------------------------------------------------------- EventSink
    def emit(self, event: dict[str, Any]) -> None:
        if self._closed:
            raise RuntimeError(f"sink {self.name} is closed")
        self.buffer.append(event)
        with self._cond:
            self._emitted += 1
            self._cond.notify_all()

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until the destination acknowledged everything emitted so far, at most ``timeout``
        seconds (default ``close_timeout``); the rest stays in the durable buffer. Returns whether
        the backlog is empty."""
        deadline = time.monotonic() + (self.close_timeout if timeout is None else timeout)
        with self._cond:
            while self.buffer.backlog and not self._stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(min(left, 0.05))
        self.buffer.sync()
        return self.buffer.backlog == 0

    def close(self, timeout: float | None = None) -> None:
        """Drain for at most ``timeout`` seconds (default ``close_timeout``), then stop. What was not
        delivered stays in the buffer folder and goes out when a sink opens it again."""
        if self._closed:
            return
        self._closed = True
        budget = self.close_timeout if timeout is None else timeout
        start = time.monotonic()
        self.flush(budget)
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(max(0.5, budget - (time.monotonic() - start)) + self.publish_timeout)
        try:
            self.transport.close(max(0.5, min(2.0, budget)))
        finally:
            self.buffer.close()
        backlog = self.buffer.stats()["backlog"]
        if backlog:
            log.warning("sink %s closed with %d undelivered events kept in %s", self.name, backlog,
                        self.buffer.directory)

    def stats(self) -> dict[str, int | float]:
        b = self.buffer.stats()
        given_up = getattr(self.transport, "given_up", 0)
        out = {"emitted": self._emitted, "delivered": self._delivered - given_up, "backlog": b["backlog"],
               "dropped": b["dropped"], "retries": self._retries, "reconnects": self._reconnects,
               "connected": int(self.transport.connected)}
        extra = getattr(self.transport, "extra_stats", None)
        return {**out, **(extra() if extra else {})}

    @property
    def last_error(self) -> str:
        """The last delivery error, redacted (for logs and ``/health``)."""
        return self._last_error

    # ---------------------------------------------------------------- delivery thread
    def _run(self) -> None:
        failures = 0
        while True:
            with self._cond:
                while not self._stop and not self.buffer.backlog:
                    self._cond.wait(0.5)
                if self._stop:
                    return
            if failures:
                delay = min(self.backoff_max, self.backoff_initial * 2 ** (failures - 1)) * random.uniform(0.5, 1)
                hint = getattr(self.transport, "retry_after", None)  # e.g. HTTP Retry-After
                if hint is not None:
                    delay = min(self.backoff_max, max(delay, hint))
                    self.transport.retry_after = None  # type: ignore[attr-defined]
                if self._sleep(delay):
                    return
            try:
                tried, acked = self._attempt()
            except Exception as exc:  # noqa: BLE001 - the destination failed: retried after a backoff
                self._note_error(exc)
                tried, acked = -1, 0
            if tried and acked == tried:
                if failures:
                    self._reconnects += 1  # delivering again after an outage
                failures = 0
            elif tried:
                if tried > 0 and getattr(self.transport, "refused", None):
                    self._note_error(RuntimeError(self.transport.refused))  # type: ignore[attr-defined]
                failures += 1
                self._retries += 1

    def _attempt(self) -> tuple[int, int]:
        """Send one batch: (how many tried, how many the destination acknowledged)."""
        if not self.transport.connected:
            self.transport.connect(self.publish_timeout)
        records = self.buffer.pending(self.batch_size)
        if not records:
            return 0, 0
        acked = self.transport.publish([r.event for r in records], self.publish_timeout)
        if acked:
            self.buffer.ack(records[acked - 1].seq)
            with self._cond:
                self._delivered += acked
                self._cond.notify_all()
        return len(records), acked

    def _sleep(self, seconds: float) -> bool:
        with self._cond:
            if not self._stop:
                self._cond.wait(seconds)
            return self._stop

    def _note_error(self, exc: BaseException) -> None:
        text = f"{type(exc).__name__}: {exc}".splitlines()[0][:300] if str(exc) else type(exc).__name__
        for secret in getattr(self.transport, "secrets", ()):  # never log a credential, whatever a library says
            if secret:
                text = text.replace(secret, "***")
        if text != self._last_error:
            log.warning("sink %s: %s (events stay buffered, retrying)", self.name, text)
        self._last_error = text
