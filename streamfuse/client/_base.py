"""What every subscription shares: de-duplication by CloudEvents id, filters, iteration."""

from __future__ import annotations

import asyncio
import random
from collections import OrderedDict, deque
from typing import Any

from ..serve.filters import EventFilter
from ..serve.matcher import TextMatcher


class _SeenIds:
    """The last ``size`` event ids, to drop re-deliveries (at-least-once upstream)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def add(self, event_id: str) -> bool:
        """True if ``event_id`` is new."""
        if event_id in self._ids:
            self._ids.move_to_end(event_id)
            return False
        self._ids[event_id] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True


def backoff(failures: int, initial: float = 0.1, cap: float = 5.0) -> float:
    """Capped exponential backoff with jitter, for the ``failures``-th consecutive failure."""
    return min(cap, initial * 2 ** max(0, failures - 1)) * random.uniform(0.5, 1.0)


class Subscription:
    """An async iterator of events (dicts) from one server or broker, each id at most once.

    ``async with subscribe(...) as sub:`` connects before the body runs (so nothing published after
    it is missed); plain ``async for event in subscribe(...)`` connects on the first step.
    Unreachable at the start, or refused credentials, raise a
    :class:`~streamfuse.errors.UserInputError` subclass; later outages are retried (at most
    ``max_retries`` consecutive failures, with capped backoff) and resume where the stream was.
    """

    #: whether this backend must apply the text query itself (brokers cannot)
    client_side_query = False

    def __init__(self, flt: EventFilter, *, matcher: TextMatcher | None = None, dedup_size: int = 100_000,
                 max_retries: int = 60, connect_timeout: float = 5.0) -> None:
        self.filter = flt
        self.max_retries = max_retries
        self.connect_timeout = connect_timeout
        self._matcher = matcher
        self._seen = _SeenIds(dedup_size)
        self._pending: deque[dict[str, Any]] = deque()
        self._started = False
        self._closed = False
        self._start_lock: asyncio.Lock | None = None
        self.received = 0
        self.duplicates = 0
        self.reconnects = 0
        self.last_id: str | None = None

    # subclasses implement these three
    async def _connect(self) -> None:
        raise NotImplementedError

    async def _fetch(self) -> list[dict[str, Any]]:
        """Wait for the next batch of raw events (possibly duplicates); reconnect as needed."""
        raise NotImplementedError

    async def _close(self) -> None:
        raise NotImplementedError

    # the public side
    async def start(self) -> "Subscription":
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if not self._started:
                await self._connect()
                self._started = True
        return self

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        await self.start()
        while True:
            while not self._pending:
                if self._closed:
                    raise StopAsyncIteration
                self._pending.extend(await self._fetch())
            event = self._pending.popleft()
            event_id = event.get("id")
            if not isinstance(event_id, str):
                continue
            if not self._seen.add(event_id):
                self.duplicates += 1
                continue
            if not self.filter.matches_fields(event) or not await self._query_matches(event):
                continue
            self.received += 1
            self.last_id = event_id
            return event

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            if self._started:
                await self._close()

    async def __aenter__(self) -> "Subscription":
        return await self.start()

    async def __aexit__(self, *exc: Any) -> None:
        await self.aclose()

    def stats(self) -> dict[str, int]:
        return {"received": self.received, "duplicates": self.duplicates, "reconnects": self.reconnects}

    async def _query_matches(self, event: dict[str, Any]) -> bool:
        if not self.client_side_query or self.filter.query is None:
            return True
        from ..serve.matcher import MiniLMMatcher, query_matches
        if self._matcher is None:
            self._matcher = MiniLMMatcher()
        return await asyncio.to_thread(query_matches, self._matcher, self.filter.query, self.filter.threshold, event)
