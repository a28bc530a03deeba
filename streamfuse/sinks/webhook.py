"""Webhook sink: one HTTP POST per event (httpx), CloudEvents structured mode.

Body: the event as JSON, ``Content-Type: application/cloudevents+json``. A 2xx answer acknowledges
the event. Failures are retried with capped exponential backoff by the delivery thread:

* connection errors, timeouts, 408, 425, 429 and 5xx: the event stays first in the buffer and is
  retried (a ``Retry-After`` of up to ``backoff_max`` seconds is honoured);
* an event answered with 5xx ``max_attempts`` times in a row is given up and counted in ``failed``
  (so one poisonous event cannot stop the stream); connection errors never give an event up: while
  the receiver is down events wait in the bounded buffer like any broker's;
* other 4xx (the receiver rejects the event): given up at once, counted in ``rejected``.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from ._delivery import TransportError

_RETRYABLE = frozenset({408, 425, 429})


class WebhookTransport:
    def __init__(self, url: str, *, headers: dict[str, str] | None = None, max_attempts: int = 8,
                 display: str = "") -> None:
        self.display = display or url
        self.url = url
        parts = urlsplit(url)
        in_query = re.findall(r"(?i)(?:pass(?:word)?|token|secret|key|auth)=([^&]+)", parts.query)
        self.secrets = tuple(x for x in (parts.password, *in_query) if x)
        self.max_attempts = max_attempts
        self._headers = {"Content-Type": "application/cloudevents+json", **(headers or {})}
        self._client: httpx.Client | None = None
        self._attempts = 0          # consecutive failed attempts of the first event of the batch
        self._attempts_of: str | None = None
        self.failed = 0
        self.rejected = 0
        self.retry_after: float | None = None
        self.refused: str | None = None
        self.auth_failed = False

    @property
    def connected(self) -> bool:
        return True  # HTTP has no session; failures drive the backoff

    def connect(self, timeout: float) -> None:
        if self._client is None:
            self._client = httpx.Client(timeout=timeout, follow_redirects=False)

    def publish(self, events: list[dict[str, Any]], timeout: float) -> int:
        self.connect(timeout)
        assert self._client is not None
        done = 0
        for event in events:
            body = json.dumps(event, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
            try:
                response = self._client.post(self.url, content=body, headers=self._headers, timeout=timeout)
            except httpx.HTTPError as exc:
                if done:
                    return done
                raise TransportError(f"webhook {self.display}: {type(exc).__name__}: {exc}") from None
            status = response.status_code
            if 200 <= status < 300:
                self._attempts, self._attempts_of = 0, None
                done += 1
                continue
            if 400 <= status < 500 and status not in _RETRYABLE:
                self.rejected += 1
                self.refused = f"HTTP {status}"
                self.auth_failed = status in (401, 403)
                self._attempts, self._attempts_of = 0, None
                done += 1  # the receiver will never take it: give it up, counted
                continue
            self.refused = f"HTTP {status}"
            self.retry_after = _retry_after(response.headers.get("Retry-After"))
            if status >= 500:
                if self._attempts_of != event.get("id"):
                    self._attempts, self._attempts_of = 0, event.get("id")
                self._attempts += 1
                if self._attempts >= self.max_attempts:
                    self.failed += 1
                    self._attempts, self._attempts_of = 0, None
                    done += 1  # given up after max_attempts, counted
                    continue
            return done
        return done

    def extra_stats(self) -> dict[str, int]:
        return {"failed": self.failed, "rejected": self.rejected}

    @property
    def given_up(self) -> int:
        return self.failed + self.rejected

    def close(self, timeout: float) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: use our own backoff

