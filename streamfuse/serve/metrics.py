"""Pipeline metrics for ``GET /metrics`` (Prometheus text format, via prometheus-client).

The pipeline updates one :class:`Metrics` object (thread-safe) as it works; the live server renders
it. Each ``Metrics`` has its own registry, so two pipelines (or two tests) in one process do not mix.

==================================================  =========  ============================================
``streamfuse_frames_in_total``                      counter    decoded frames taken in
``streamfuse_frames_dropped_total{reason}``         counter    frames dropped (``late``, ``queue_full``, ...)
``streamfuse_windows_total``                        counter    windows fused
``streamfuse_events_total{type}``                   counter    events emitted, by short type
``streamfuse_event_latency_seconds``                histogram  end-to-end latency: media arrival -> emit
``streamfuse_reconnects_total``                     counter    live-source reconnects
``streamfuse_sink_backlog{sink}``                   gauge      events buffered, not yet delivered
``streamfuse_sink_dropped_total{sink}``             counter    events a sink dropped beyond its bound
``streamfuse_sink_delivered_total{sink}``           counter    events a sink delivered
``streamfuse_subscribers``                          gauge      live-server subscribers (SSE + WebSocket)
==================================================  =========  ============================================
"""

from __future__ import annotations

import threading
from typing import Any, Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    """Counters, gauges and a latency histogram the pipeline updates and ``/metrics`` shows."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self._frames_in = Counter("streamfuse_frames_in", "Decoded frames taken in", registry=r)
        self._frames_dropped = Counter("streamfuse_frames_dropped", "Frames dropped", ["reason"], registry=r)
        self._windows = Counter("streamfuse_windows", "Windows fused", registry=r)
        self._events = Counter("streamfuse_events", "Events emitted, by short type", ["type"], registry=r)
        self._latency = Histogram("streamfuse_event_latency_seconds",
                                  "End-to-end latency from media arrival to event emission",
                                  buckets=LATENCY_BUCKETS, registry=r)
        self._reconnects = Counter("streamfuse_reconnects", "Live-source reconnects", registry=r)
        self._sink_failures = Counter("streamfuse_sink_failures", "Events a sink refused (raised on emit)",
                                      ["sink"], registry=r)
        self._subscribers = Gauge("streamfuse_subscribers", "Live-server subscribers", registry=r)
        self._sinks: dict[str, Any] = {}
        self._backlog: dict[str, int] = {}
        self._lock = threading.Lock()
        r.register(_SinkCollector(self))

    # the pipeline's side
    def count_frames(self, n: int = 1) -> None:
        self._frames_in.inc(n)

    def count_dropped_frames(self, n: int = 1, reason: str = "late") -> None:
        self._frames_dropped.labels(reason=reason).inc(n)

    def count_window(self, n: int = 1) -> None:
        self._windows.inc(n)

    def count_event(self, event_type: str) -> None:
        self._events.labels(type=event_type.removeprefix("streamfuse.")).inc()

    def observe_latency(self, seconds: float) -> None:
        self._latency.observe(max(0.0, seconds))

    def count_reconnect(self, n: int = 1) -> None:
        self._reconnects.inc(n)

    def count_sink_failure(self, sink: str, n: int = 1) -> None:
        self._sink_failures.labels(sink=sink).inc(n)

    def set_sink_backlog(self, sink: str, n: int) -> None:
        """For a sink that is not watched (see :meth:`watch_sink`)."""
        with self._lock:
            self._backlog[sink] = int(n)

    def set_subscribers(self, n: int) -> None:
        self._subscribers.set(n)

    def watch_sink(self, sink: Any) -> None:
        """Read ``sink.stats()`` (backlog, dropped, delivered) at every scrape."""
        with self._lock:
            self._sinks[sink.name] = sink

    # the server's side
    def render(self) -> bytes:
        return generate_latest(self.registry)

    def value(self, name: str, **labels: str) -> float | None:
        """One sample's value (for tests and the end-of-run summary)."""
        return self.registry.get_sample_value(name, labels or None)


class _SinkCollector:
    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def describe(self) -> list:
        return []

    def collect(self) -> Iterator[Any]:
        with self._metrics._lock:
            sinks = dict(self._metrics._sinks)
            manual = dict(self._metrics._backlog)
        backlog = GaugeMetricFamily("streamfuse_sink_backlog", "Events buffered by a sink, not delivered yet",
                                    labels=["sink"])
        for name, n in sorted(manual.items()):
            if name not in sinks:
                backlog.add_metric([name], float(n))
        dropped = CounterMetricFamily("streamfuse_sink_dropped", "Events a sink dropped beyond its bound",
                                      labels=["sink"])
        delivered = CounterMetricFamily("streamfuse_sink_delivered", "Events a sink delivered",
                                        labels=["sink"])
        for name, sink in sorted(sinks.items()):
            try:
                stats = sink.stats()
            except Exception:  # noqa: BLE001 - a closed sink: skip it
                continue
            backlog.add_metric([name], float(stats.get("backlog", 0)))
            dropped.add_metric([name], float(stats.get("dropped", 0)))
            delivered.add_metric([name], float(stats.get("delivered", 0)))
        yield backlog
        yield dropped
        yield delivered
