"""The live pipeline: live reader -> bounded frame queue -> windower -> encoders -> fusion -> sinks.

The reader runs on a thread of its own (FFmpeg reads block) and fills a :class:`FrameQueue`; the
caller's thread aligns, encodes, fuses and emits. Live feeds add three things to the file pipeline:

- **Lateness.** Windows still close on stream time bounds, but a stream that lags the others by more
  than ``live.max_lateness`` seconds of wall-clock time has its bound advanced to where the leading
  stream was ``max_lateness`` ago, so a silent or missing audio stream never stalls a window. Data that
  arrives after its window has closed is dropped and counted (reason ``late``).
- **Dropping.** The queue between decoding and encoding holds at most ``live.queue_frames`` video
  frames; when processing falls behind, the oldest waiting video frame is dropped (policy
  ``drop_oldest_video``). Audio is never dropped by the queue. Drops are counted in the metrics and
  reported by a ``frames.dropped`` event per window in which they happened.
- **Latency.** Per window: wall time of emission minus the wall time the window's last frame or
  audio arrived; exported as the metrics' latency histogram.

Status events ``source.connected`` / ``source.lost`` share the source's event numbering; when the
feed is lost, every window holding its data is emitted and open durative events end (nothing is
observed during the outage); the next connection's media time starts after those windows (see
:mod:`streamfuse.sources.live`). :meth:`LivePipeline.stop` (safe from a signal handler) stops reading,
finishes the window in progress, ends open durative events and flushes the sinks.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Sequence

from ..align.window import Window
from ..align.windower import Windower
from ..config.pipeline import PipelineConfig
from ..decode.demux import StreamBound
from ..decode.payloads import AudioClip, VideoFrame
from ..encode.base import Encoder
from ..events.cloudevents import run_token, short_type
from ..fuse.base import Fused
from ..serve.metrics import Metrics
from ..sinks.base import EventSink
from ..decode.live import Arrival, LiveReader, SourceStatus
from ..sources.resolve import Source
from ..timebase import as_fraction
from .source_stage import source_decoding
from .stages import EncodeStage, FuseStage

log = logging.getLogger(__name__)

OnWindow = Callable[[Window, Fused, "float | None"], None]
_TICK = 0.05  # seconds the loop waits for an item before it checks lateness and stop requests
_END = object()


class FrameQueue:
    """Bounded queue from the reader thread to the processing thread, policy ``drop_oldest_video``.

    At most ``max_frames`` video frames wait; putting one more drops the oldest waiting video frame
    and counts it. Audio, bounds and status items are never dropped; past ``max_items`` waiting items
    in all, ``put`` blocks (the reader stops reading) until there is room or the queue is closed.
    """

    policy = "drop_oldest_video"

    def __init__(self, max_frames: int, max_items: int | None = None) -> None:
        if max_frames < 1:
            raise ValueError(f"max_frames must be >= 1, got {max_frames}")
        self.max_frames = max_frames
        self.max_items = max_items or max(1024, 64 * max_frames)
        self._items: deque[Any] = deque()
        self._frames = 0
        self._cond = threading.Condition()
        self._closed = False
        self.dropped = 0
        self._pending_drops: list[VideoFrame] = []

    def put(self, arrival: Any) -> None:
        with self._cond:
            while len(self._items) >= self.max_items and not self._closed:
                self._cond.wait(0.1)
            if self._closed:
                return
            if isinstance(getattr(arrival, "item", None), VideoFrame):
                if self._frames >= self.max_frames:
                    self._drop_oldest_frame()
                self._frames += 1
            self._items.append(arrival)
            self._cond.notify_all()

    def put_end(self) -> None:
        """The reader is done (``get`` returns the end marker after the items before it)."""
        with self._cond:
            self._items.append(_END)
            self._cond.notify_all()

    def get(self, timeout: float) -> Any:
        """The next item, :data:`_END`, or ``None`` when nothing came within ``timeout`` seconds."""
        with self._cond:
            if not self._items:
                self._cond.wait(timeout)
            if not self._items:
                return None
            arrival = self._items.popleft()
            if isinstance(getattr(arrival, "item", None), VideoFrame):
                self._frames -= 1
            self._cond.notify_all()
            return arrival

    def take_drops(self) -> list[VideoFrame]:
        """The frames dropped since the last call."""
        with self._cond:
            out, self._pending_drops = self._pending_drops, []
            return out

    def close(self) -> None:
        """Wake a blocked ``put``; later ``put`` calls discard their item."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        return len(self._items)

    def _drop_oldest_frame(self) -> None:
        for i, arrival in enumerate(self._items):
            if isinstance(getattr(arrival, "item", None), VideoFrame):
                del self._items[i]
                self._frames -= 1
                self.dropped += 1
                self._pending_drops.append(arrival.item)
                return


class _Progress:
    """Where each stream's bound was at recent wall-clock times, to tell which stream lags."""

    def __init__(self, keep: float) -> None:
        self.keep = keep
        self.history: dict[str, deque[tuple[float, Fraction]]] = {}

    def note(self, stream: str, wall: float, bound: Fraction) -> None:
        h = self.history.setdefault(stream, deque())
        if h and h[-1][1] >= bound:
            return
        h.append((wall, bound))
        while len(h) > 1 and h[1][0] < wall - self.keep:
            h.popleft()

    def at(self, stream: str, wall: float) -> Fraction | None:
        """The stream's bound as of wall-clock time ``wall`` (None: it had none then)."""
        best = None
        for w, bound in self.history.get(stream, ()):
            if w > wall:
                break
            best = bound
        return best


@dataclass
class LiveStats:
    """What a live run did; ``latencies`` holds the most recent per-window latencies (seconds)."""

    windows: int = 0
    events: Counter = field(default_factory=Counter)
    frames_in: int = 0
    dropped: Counter = field(default_factory=Counter)
    reconnects: int = 0
    lateness_advances: Counter = field(default_factory=Counter)
    sink_failures: Counter = field(default_factory=Counter)  # events each sink refused
    latencies: deque = field(default_factory=lambda: deque(maxlen=100_000))

    def latency(self, q: float) -> float | None:
        """The ``q`` quantile (0-1) of the window latencies, or None before the first window."""
        if not self.latencies:
            return None
        values = sorted(self.latencies)
        return values[min(len(values) - 1, max(0, round(q * (len(values) - 1))))]


class LivePipeline:
    """One live source through the pipeline until :meth:`stop` (or until the feed is given up).

    ``sinks`` receive every event in order from the processing thread. ``on_status`` sees every
    :class:`~streamfuse.sources.live.SourceStatus` (the CLI prints them); ``on_window`` every window
    (without its payload), its fused result and its latency.
    """

    def __init__(self, source: Source, config: PipelineConfig, sinks: Sequence[EventSink] = (), *,
                 metrics: Metrics | None = None, on_status: Callable[[SourceStatus], None] | None = None,
                 on_window: OnWindow | None = None, encoders: list[Encoder] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.source = source
        self.config = config
        self.live = config.live
        self.sinks = list(sinks)
        self.metrics = metrics if metrics is not None else Metrics()
        self.on_status = on_status
        self.on_window = on_window
        self.clock = clock
        self.stats = LiveStats()
        self.reader = LiveReader(source, source_decoding(config), config.live, resume_at=self._resume_at, clock=clock)
        self.queue = FrameQueue(config.live.queue_frames)
        self.windower = Windower(source.id, config.window.length, config.window.hop, hold_last=False)
        self._hop = as_fraction(config.window.hop)
        self._max_lateness = config.live.max_lateness
        self._progress = _Progress(keep=config.live.max_lateness + 0.5)
        self._encoders = encoders
        self.encode: EncodeStage | None = None
        self.fuse = FuseStage(config, source, run=run_token())
        self._arrivals: deque[tuple[Fraction, float]] = deque()  # (media time, arrival wall) of data
        self._arrival_floor: float | None = None
        self._late: list[tuple[str, Fraction, Fraction]] = []  # (reason, start, end) since the last report
        self._stop = threading.Event()
        self._reader_error: BaseException | None = None

    # -- control ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the feed (its one-line error surfaces here), then load the encoders."""
        self.reader.open()
        if self.encode is None:
            try:
                self.encode = EncodeStage(self.config.encoders, self._encoders)
            except BaseException:
                self.reader.close()
                raise

    def stop(self) -> None:
        """Ask :meth:`run` to finish; safe from a signal handler and from any thread."""
        self._stop.set()
        self.reader.stop()

    # -- the loop -----------------------------------------------------------------------------

    def run(self) -> LiveStats:
        """Process the feed until :meth:`stop`; then finish the window in progress, end open durative
        events and flush the sinks. Raises :class:`~streamfuse.sources.live.SourceLostError` when the
        feed is given up (after the same clean finish)."""
        self.open()
        thread = threading.Thread(target=self._read, name=f"streamfuse-live-{self.source.id}", daemon=True)
        thread.start()
        try:
            return self._loop(thread)
        finally:
            if self.encode is not None:
                self.encode.close()

    def _loop(self, thread: threading.Thread) -> LiveStats:
        try:
            while not self._stop.is_set():
                arrival = self.queue.get(_TICK)
                if arrival is _END:
                    break
                if arrival is not None:
                    self._take(arrival)
                # the lateness clock: the arrival time of what is being processed while a backlog waits,
                # so that items still queued are never judged late because processing was slow
                now = arrival.wall if arrival is not None and len(self.queue) else self.clock()
                self._lateness(now)
        except BaseException:
            self._halt_reader(thread)
            try:
                self._emit(self.fuse.fusion.finish())
                self._flush()
            except Exception:  # noqa: BLE001 - the first error is the one to report
                log.exception("while ending the run after an error")
            raise
        self._halt_reader(thread)
        while (arrival := self.queue.get(0)) is not None:  # what was read before the stop
            if arrival is not _END:
                self._take(arrival)
        self._process(self.windower.close())
        self._emit(self.fuse.fusion.finish())
        self._report_drops()
        self._flush()
        if self._reader_error is not None:
            raise self._reader_error
        return self.stats

    def _read(self) -> None:
        try:
            for arrival in self.reader:
                if isinstance(arrival.item, VideoFrame):
                    self.stats.frames_in += 1
                    self.metrics.count_frames()
                self.queue.put(arrival)
        except BaseException as exc:  # noqa: BLE001 - handed to the processing thread with its traceback
            self._reader_error = exc
        finally:
            self.queue.put_end()

    def _halt_reader(self, thread: threading.Thread) -> None:
        self.reader.stop()
        self.queue.close()
        # a read blocked on a silent feed returns within the stall timeout, an attempt to open within
        # twice the connect timeout (opening, then finding the streams)
        thread.join(self.live.stall_timeout + 2 * self.live.connect_timeout + 2.0)
        if thread.is_alive():
            log.warning("the reader of %s did not stop in time", self.source.display)

    def _resume_at(self, end: Fraction) -> Fraction:
        """Where a new connection's media starts after one that ended at ``end``: the end of the last
        window that starts before ``end`` (less than one window length later)."""
        hop, length = as_fraction(self.config.window.hop), as_fraction(self.config.window.length)
        last = -(-end // hop) - 1  # the last window that starts before ``end``
        return max(end, last * hop + length)

    # -- items ----------------------------------------------------------------------------------

    def _take(self, arrival: Arrival) -> None:
        item = arrival.item
        if isinstance(item, SourceStatus):
            self._status(item)
            return
        horizon = self.windower.index * self._hop  # no window still to come starts earlier
        if isinstance(item, VideoFrame):
            if item.time < horizon:
                self._late.append(("late", item.time, item.end))
                return
            self._arrivals.append((item.time, arrival.wall))
        elif isinstance(item, AudioClip):
            if item.start_time < horizon and item.missing_samples < len(item.samples):
                self._late.append(("late_audio", item.start_time, min(item.end_time, horizon)))
            self._arrivals.append((item.start_time, arrival.wall))
        stream = {VideoFrame: "video", AudioClip: "audio"}.get(type(item)) or getattr(item, "stream", None)
        windows = self.windower.push(item)
        if stream in self.windower.bounds and self.windower.bounds[stream] is not None:
            self._progress.note(stream, arrival.wall, self.windower.bounds[stream])
        self._process(windows)

    def _lateness(self, now: float) -> None:
        """Advance the bound of every stream that lags the leader by more than ``max_lateness``."""
        bounds = self.windower.bounds
        open_streams = [s for s, b in bounds.items() if b is not None]
        if len(open_streams) < 2:
            return
        cutoff = now - self._max_lateness
        for stream in open_streams:
            behind = bounds[stream]
            leads = [self._progress.at(s, cutoff) for s in open_streams if s != stream]
            lead = max((b for b in leads if b is not None), default=None)
            if behind is not None and lead is not None and lead > behind:
                self.stats.lateness_advances[stream] += 1
                self._process(self.windower.push(StreamBound(stream, lead)))

    def _status(self, status: SourceStatus) -> None:
        if status.kind == "connected":
            if status.connects > 1:
                self.stats.reconnects += 1
                self.metrics.count_reconnect()
            self._emit([self._status_event("source.connected", status, {
                "connects": status.connects, "outage_seconds": round(status.outage, 3),
                "connect_seconds": round(status.connect_seconds, 3), "streams": list(status.streams)})])
        elif status.kind == "lost":
            # everything the lost connection delivered has arrived and the next one starts at
            # ``resume``: close every window that holds the lost connection's data
            resume = status.resume if status.resume is not None else status.media
            for stream, bound in list(self.windower.bounds.items()):
                if bound is not None and bound < resume:
                    self._process(self.windower.push(StreamBound(stream, resume)))
            self._emit([self._status_event("source.lost", status, {"reason": status.reason,
                                                                   "connects": status.connects})])
            self._emit(self.fuse.fusion.finish())  # nothing is observed while the feed is down
        if self.on_status is not None:
            self.on_status(status)

    # -- windows and events --------------------------------------------------------------------

    def _process(self, windows: list[Window]) -> None:
        if not windows:
            return
        if self.encode is None:
            self.encode = EncodeStage(self.config.encoders, self._encoders)
        for window in windows:
            fused = self._fused(window)
            self._emit(fused.events)
            now = self.clock()
            arrived = self._last_arrival(window)
            latency = None if arrived is None else max(0.0, now - arrived)
            self.stats.windows += 1
            self.metrics.count_window()
            if latency is not None:
                self.stats.latencies.append(latency)
                self.metrics.observe_latency(latency)
            if self.on_window is not None:
                self.on_window(window.copy(frames=(), thumbs=(), audio=None), fused, latency)
        self._report_drops()

    def _fused(self, window: Window) -> Fused:
        """One window encoded and fused (a subclass may look at the features on the way)."""
        return self.fuse(window, self.encode(window))

    def _last_arrival(self, window: Window) -> float | None:
        """The wall time the last data of ``window`` arrived (None: it holds none)."""
        latest = self._arrival_floor
        for t, wall in self._arrivals:
            if t < window.end and (latest is None or wall > latest):
                latest = wall
        keep_from = window.start + self._hop  # the next window starts here; older data is in every later one
        while self._arrivals and self._arrivals[0][0] < keep_from:
            _, wall = self._arrivals.popleft()
            self._arrival_floor = wall if self._arrival_floor is None else max(self._arrival_floor, wall)
        return latest

    def _report_drops(self) -> None:
        groups: dict[str, list[tuple[Fraction, Fraction]]] = {}
        for frame in self.queue.take_drops():
            groups.setdefault("queue_full", []).append((frame.time, frame.end))
        for reason, start, end in self._late:
            groups.setdefault(reason, []).append((start, end))
        self._late = []
        for reason, spans in groups.items():
            n = len(spans)
            self.stats.dropped[reason] += n
            self.metrics.count_dropped_frames(n, reason=reason)
            start, end = min(a for a, _ in spans), max(b for _, b in spans)
            audio = reason == "late_audio"
            self._emit([self._event("frames.dropped", start, end, ("audio",) if audio else ("video",),
                                    label=reason, evidence={
                                        "count": n, "reason": reason, "total": self.stats.dropped[reason],
                                        "policy": self.queue.policy if reason == "queue_full" else "max_lateness"})])

    def _status_event(self, type_: str, status: SourceStatus, evidence: dict[str, Any]) -> dict[str, Any]:
        label = "connected" if type_ == "source.connected" else "lost"
        return self._event(type_, status.media, status.media, status.streams or ("video",), label=label,
                           evidence=evidence)

    def _event(self, type_: str, start: Fraction, end: Fraction, modalities: Sequence[str], *, label: str,
               evidence: dict[str, Any]) -> dict[str, Any]:
        events = self.fuse.fusion.events  # one numbering for the source's events, the fusers' and ours
        return events.event(type_, "instant", f"{self.source.id}-{type_}-{events.seq + 1}", start, end, 1.0,
                            modalities, label=label, evidence=evidence)

    def _emit(self, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.stats.events[short_type(event)] += 1
            for sink in self.sinks:
                try:
                    sink.emit(event)
                except Exception as exc:  # noqa: BLE001 - one failing sink must not stop the others
                    self.stats.sink_failures[sink.name] += 1
                    self.metrics.count_sink_failure(sink.name)
                    n = self.stats.sink_failures[sink.name]
                    if n & (n - 1) == 0:  # the 1st, 2nd, 4th, 8th... failure: bounded, and never silent
                        log.warning("sink %s failed %d time%s (last: %s: %s); counted in /metrics as "
                                    "streamfuse_sink_failures", sink.name, n, "" if n == 1 else "s",
                                    type(exc).__name__, exc)

    def _flush(self) -> None:
        for sink in self.sinks:
            try:
                sink.flush(5.0)
            except Exception as exc:  # noqa: BLE001
                log.warning("flushing sink %s failed: %s", sink.name, exc)


__all__ = ["LivePipeline", "LiveStats", "FrameQueue"]
