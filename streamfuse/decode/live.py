"""Read a live feed through the :class:`~streamfuse.decode.demux.Demuxer` and keep it open.

:class:`LiveReader` reads a live :class:`~streamfuse.sources.resolve.Source` (made by
:func:`streamfuse.sources.live.live_source`, opened with the options of
:func:`streamfuse.sources.live.input_options`) and reconnects, with capped exponential backoff and
jitter, whenever the feed drops, fails or stalls.

Stalls: every read is bounded (PyAV's read timeout and FFmpeg's ``rw_timeout``, both
``live.stall_timeout``), so a read blocked on a silent feed is interrupted; and a watchdog checked
before every packet ends a connection that delivers packets but nothing decodable for
``stall_timeout`` seconds. An interrupted FFmpeg input does not recover, so either way the feed is
reopened.

SRT: each connection to an ``srt://`` feed reads a local relay of its own
(:mod:`streamfuse.sources.srt_relay`), ended with the connection (on a drop, a stall or
:meth:`LiveReader.stop`). A relay that exits (the server went away) ends the connection before the
next packet, or, when nothing more arrives, when the blocked read times out (``stall_timeout``).

Media time across reconnects: each connection's media time continues where everything delivered
before it ended (the end of the previous connection's last frame, sample or bound, on the audio
sample grid), moved on by ``resume_at`` (the live pipeline moves it to the end of the last window
that holds the lost connection's data, less than one window length, so that those windows close at
the loss and no window mixes two connections). Media time is monotonic and the outage itself takes
no media time. Mapping by wall clock instead would leave an outage-long hole that the windower fills
with empty windows in one burst when the feed returns (an hour offline: 3600 windows at once), and
would make media times depend on reconnect delays. Wall-clock time is kept beside media time: every
item comes with the ``time.monotonic()`` of its arrival (:class:`Arrival`), for latency, and a
reconnect's status carries the outage's wall-clock length.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import random
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Callable, Iterator, Literal, Protocol, Union

import av

from ..config.live import LiveConfig
from ..config.pipeline import DecodeConfig
from ..errors import ConfigError, SourceUnreachableError, StreamfuseError
from ..sources.live import input_options
from ..sources.resolve import Source
from ..sources.srt_relay import SrtRelay, is_srt
from ..timebase import SAMPLE_RATE
from .demux import Damage, Demuxer, DemuxReport, Item, StreamBound, StreamClosed
from .payloads import AudioClip, TextSegment, Thumbnail, VideoFrame

log = logging.getLogger(__name__)

#: a first connection left unread for longer than this (seconds) is reopened before reading
_STALE_OPEN = 1.0


class SourceLostError(StreamfuseError, ConnectionError):
    """A live feed that was lost and did not come back within ``live.max_retries`` attempts."""



# ---------------------------------------------------------------- what the reader yields


@dataclass(frozen=True)
class SourceStatus:
    """A change in the feed's state.

    ``connected``: media flows (again); ``media`` is where its media time starts, ``outage`` the
    wall-clock seconds since the feed was lost (0 for the first connection), ``connect_seconds``
    how long opening took. ``lost``: the feed dropped, failed or stalled (``reason``); everything it
    delivered ends at ``media`` and the next connection starts at ``resume``. ``retry``: an attempt
    to reopen it failed (``reason``); the next comes in ``delay`` seconds.
    """

    kind: Literal["connected", "lost", "retry"]
    media: Fraction
    reason: str = ""
    attempt: int = 0  # failed attempts since the feed was last up
    connects: int = 0  # connections that delivered media so far
    delay: float = 0.0
    outage: float = 0.0
    connect_seconds: float = 0.0
    streams: tuple[str, ...] = ()
    resume: Fraction | None = None  # "lost": where the next connection's media time will start


@dataclass(frozen=True)
class Arrival:
    """One item of the feed, the ``time.monotonic()`` at which it was read and the number of the
    connection that delivered it (the reader's count of connection attempts; 0 for statuses)."""

    item: Union[Item, SourceStatus]
    wall: float
    connection: int = 0


class PacketTap(Protocol):
    """Sees a feed's compressed packets as they are read, before decoding (e.g. to keep clips).

    ``opened(number, container)`` is called for every connection when its input is open;
    ``packet(packet)`` for every packet that connection reads; ``closed(number)`` when it has
    ended. All run on the reader's thread and must be quick; an exception from them ends nothing
    (it is logged once per connection).
    """

    def opened(self, number: int, container) -> None: ...

    def packet(self, packet) -> None: ...

    def closed(self, number: int) -> None: ...


class _Interrupted(Exception):
    """Ends a connection from inside the demuxer's packet loop. Not an FFmpeg error, so the demuxer
    does not try to resynchronise on it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Watch:
    """The stall watchdog of one connection, checked before every packet is read; it also ends a
    connection whose relay (``srt://``) has ended."""

    def __init__(self, stall_timeout: float, stop: threading.Event, clock: Callable[[], float]) -> None:
        self.stall_timeout = stall_timeout
        self.stop = stop
        self.clock = clock
        self.last_media = clock()
        self.relay: SrtRelay | None = None

    def relay_ended(self) -> str | None:
        return self.relay.ended if self.relay is not None else None

    def check(self) -> None:
        if self.stop.is_set():
            raise _Interrupted("stopped")
        ended = self.relay_ended()
        if ended is not None:
            raise _Interrupted(ended)
        if self.clock() - self.last_media > self.stall_timeout:
            raise _Interrupted(f"stalled: nothing decodable for {self.stall_timeout:g} s")

    def alive(self, now: float) -> None:
        self.last_media = max(self.last_media, now)


class _WatchedContainer:
    """An input container whose packet reads are watched (and shown to a tap); everything else is
    the container's."""

    def __init__(self, container, watch: _Watch, tap: PacketTap | None = None, number: int = 0) -> None:
        self._container = container
        self._watch = watch
        self._tap = tap
        if tap is not None and not _tapped(tap.opened, number, container):
            self._tap = None

    def __getattr__(self, name: str):
        return getattr(self._container, name)

    def demux(self, *streams):
        packets = self._container.demux(*streams)
        timeout = self._watch.stall_timeout
        while True:
            self._watch.check()
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.error.EOFError:
                raise
            except (av.error.ExitError, av.error.TimeoutError):
                raise _Interrupted(self._watch.relay_ended() or f"stalled: no data for {timeout:g} s") from None
            except av.error.FFmpegError as exc:
                raise _Interrupted(f"read failed ({exc.strerror or type(exc).__name__})") from None
            if self._tap is not None and not _tapped(self._tap.packet, packet):
                self._tap = None
            yield packet


def _tapped(call, *args) -> bool:
    try:
        call(*args)
        return True
    except Exception as exc:  # noqa: BLE001 - a tap must not end the feed
        log.warning("packet tap failed (%s: %s); it sees no more of this connection", type(exc).__name__, exc)
        return False


class _Connection:
    """One connection to the feed: a :class:`Demuxer` whose reads are bounded by the stall
    timeout and watched (see the module docstring), and when it was started and opened.

    An ``srt://`` feed is read from a relay of its own (:class:`~streamfuse.sources.srt_relay.SrtRelay`),
    started by :meth:`open` and ended by :meth:`end` (the reader calls it when the connection
    ends, however it ends); a relay that ends (the server went away) ends the connection."""

    def __init__(self, source: Source, decode: DecodeConfig, live: LiveConfig, watch: _Watch,
                 options: dict[str, str], fmt: str | None, tap: PacketTap | None = None, number: int = 0) -> None:
        self.watch = watch
        self.number = number
        self.relay = watch.relay = SrtRelay(source) if is_srt(source) else None
        self.demuxer = Demuxer(source, decode, open_timeout=live.connect_timeout, read_timeout=live.stall_timeout,
                               options=options, format=fmt, wrap=lambda c: _WatchedContainer(c, watch, tap, number),
                               url=self.relay.url if self.relay is not None else None)
        self.started = self.opened = watch.clock()

    @property
    def report(self) -> DemuxReport:
        return self.demuxer.report

    def open(self) -> None:
        if self.relay is not None:
            self.relay.start()
        try:
            self.demuxer.open()
        except StreamfuseError:
            ended = self.watch.relay_ended()
            self.end()
            if ended is None:
                raise
            raise SourceUnreachableError(f"{self.demuxer.source.display}: {ended}; check the address, the passphrase "
                                         "and that the server is up") from None
        except ValueError as exc:  # PyAV: an input format this FFmpeg does not have
            self.end()
            raise ConfigError(f"live.format: {self.demuxer.format!r}: {exc}; see 'ffmpeg -formats'") from None
        except BaseException:
            self.end()
            raise
        self.opened = self.watch.clock()

    def end(self) -> None:
        """End the relay, if any (at most about a second)."""
        if self.relay is not None:
            self.relay.close()

    def close(self) -> None:
        """Close a connection that was opened but never read."""
        self.demuxer.close()
        self.end()


# ---------------------------------------------------------------- the reader


def _shift(item: Item, offset: Fraction, samples: int) -> Item:
    """``item`` moved ``offset`` seconds (``samples`` audio samples) later in media time."""
    if not samples:
        return item
    if isinstance(item, (VideoFrame, Thumbnail)):
        return dataclasses.replace(item, time=item.time + offset)
    if isinstance(item, AudioClip):
        return AudioClip(item.start + samples, item.samples, item.sample_rate,
                         tuple((a + samples, b + samples) for a, b in item.missing))
    if isinstance(item, StreamBound):
        return StreamBound(item.stream, item.time + offset)
    if isinstance(item, TextSegment):
        return dataclasses.replace(item, start=item.start + offset, end=item.end + offset,
                                   words=tuple((a + offset, b + offset, w) for a, b, w in item.words))
    if isinstance(item, Damage):
        return Damage(item.start + offset, item.end + offset, item.reason)
    return item


def _reach(item: Item) -> Fraction | None:
    """How far in media time ``item`` proves the feed has delivered."""
    if isinstance(item, (VideoFrame, Thumbnail)):
        return item.end
    if isinstance(item, AudioClip):
        return item.end_time
    if isinstance(item, StreamBound):
        return item.time
    return None


class LiveReader:
    """Iterate a live feed as :class:`Arrival` items, across reconnects, until :meth:`stop`.

    Yields the demuxer's items with media times made continuous across connections (see the module
    docstring) and :class:`SourceStatus` items when the feed connects, is lost, or a reconnect attempt
    fails. :meth:`open` opens the first connection and raises the feed's one-line error
    (:class:`~streamfuse.errors.SourceUnreachableError`, ...) unless ``live.wait_at_start``. A feed
    that was up is retried forever, or until ``live.max_retries`` attempts in a row have failed
    (then :class:`SourceLostError`). ``stop()`` may be called from any thread.
    """

    def __init__(self, source: Source, decode: DecodeConfig, live: LiveConfig, *,
                 resume_at: Callable[[Fraction], Fraction] | None = None,
                 clock: Callable[[], float] = time.monotonic, rand: Callable[[], float] = random.random,
                 tap: PacketTap | None = None) -> None:
        self.source = source
        self.tap = tap
        self.resume_at = resume_at
        self.decode = decode
        self.live = live
        self.options, self.format = input_options(source, live)
        self.clock = clock
        self.rand = rand
        self.connects = 0  # connections that delivered media
        self.attempts = 0  # connections opened or tried
        self.frames_decoded = 0
        self.decode_errors = 0
        self.report: DemuxReport | None = None  # the current (or last) connection's
        self._stop = threading.Event()
        self._pending: _Connection | None = None
        self._current: _Connection | None = None  # the connection being opened or read
        self._opened = False
        self._failures = 0
        self._reason = ""
        self._delay: float | None = None  # the wait announced by the last "retry" status
        self._deferred: str | None = None  # why the first attempt failed, with wait_at_start
        self._end = Fraction(0)  # media time up to which everything has been delivered
        self._closed: set[str] = set()
        self._lost_at: float | None = None
        self._pumped = True  # whether the current report is already in decode_errors

    # -- control ------------------------------------------------------------------------------

    def open(self) -> None:
        """Open the first connection now, so that a feed that is down fails before anything else starts."""
        if self._opened:
            return
        self._opened = True
        try:
            self._pending = self._connect()
        except StreamfuseError as exc:
            if not self.live.wait_at_start:
                raise
            self._deferred = str(exc)

    def stop(self) -> None:
        self._stop.set()
        conn = self._current
        if conn is not None and conn.relay is not None:
            conn.relay.terminate()  # reaped by the reading thread

    def close(self) -> None:
        """Stop, and close a connection that :meth:`open` made and nothing has read."""
        self.stop()
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.close()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    @property
    def decode_errors_total(self) -> int:
        """Packets that failed to decode, over every connection so far (the current one included)."""
        current = self.report.decode_errors if self.report is not None and not self._pumped else 0
        return self.decode_errors + current

    def backoff(self, failures: int) -> float:
        """Seconds to wait before the next attempt after ``failures`` failed ones (0: right after a loss)."""
        live = self.live
        base = min(live.reconnect_max, live.reconnect_initial * 2.0 ** min(failures, 1000))
        return min(live.reconnect_max, base * (1.0 + live.reconnect_jitter * (2.0 * self.rand() - 1.0)))

    # -- iteration -----------------------------------------------------------------------------

    def __iter__(self) -> Iterator[Arrival]:
        self.open()
        if self._deferred is not None:
            reason, self._deferred = self._deferred, None
            yield self._failed(reason)
        pending = self._pending
        if pending is not None and self.clock() - pending.opened > _STALE_OPEN:
            # opened by open() and left unread while models loaded: reopen, to start live, not with a backlog
            pending.close()
            self._pending = None
            try:
                self._pending = self._connect()
            except StreamfuseError as exc:
                yield self._failed(str(exc))
        while not self._stop.is_set():
            conn, self._pending = self._pending, None
            if conn is None:
                retries = self.live.max_retries
                if retries is not None and self._failures >= retries + (0 if self.connects else 1):
                    raise SourceLostError(
                        f"{self.source.display}: the feed is down ({self._reason}) and {self._failures} "
                        "attempts to reopen it failed; check the feed, or raise live.max_retries")
                delay = self._delay if self._delay is not None else self.backoff(self._failures)
                self._delay = None
                if self._stop.wait(delay):
                    return
                try:
                    conn = self._connect()
                except StreamfuseError as exc:
                    yield self._failed(str(exc))
                    continue
            healthy, reason = yield from self._pump(conn)
            if self._stop.is_set():
                return
            if healthy:
                self._failures, self._reason = 0, reason
                self._lost_at = self.clock()
                end = self._end
                if self.resume_at is not None:
                    self._end = max(end, self.resume_at(end))
                yield Arrival(SourceStatus("lost", end, reason, connects=self.connects, resume=self._end,
                                           streams=tuple(conn.report.streams)), self._lost_at)
            else:
                yield self._failed(reason)

    def _failed(self, reason: str) -> Arrival:
        self._failures += 1
        self._reason = reason
        self._delay = self.backoff(self._failures)
        if self._lost_at is None:
            self._lost_at = self.clock()
        return Arrival(SourceStatus("retry", self._end, reason, attempt=self._failures, connects=self.connects,
                                    delay=self._delay), self.clock())

    def _connect(self) -> _Connection:
        self.attempts += 1
        watch = _Watch(self.live.stall_timeout, self._stop, self.clock)
        conn = self._current = _Connection(self.source, self.decode, self.live, watch, self.options, self.format,
                                           self.tap, self.attempts)
        conn.open()
        watch.alive(self.clock())
        return conn

    def _pump(self, conn: _Connection):
        """Yield one connection's items; return ``(delivered media, why it ended)``."""
        first = self.connects == 0
        healthy = False
        offset, samples = Fraction(0), 0
        watch = conn.watch
        self.report = conn.report
        self._pumped = False
        try:
            for item in conn.demuxer:
                now = self.clock()
                if isinstance(item, StreamClosed):
                    # a stream the feed does not have; the closes at a connection's end are not passed on
                    if first and item.stream not in conn.report.streams and item.stream not in self._closed:
                        self._closed.add(item.stream)
                        yield Arrival(item, now, conn.number)
                    continue
                if not healthy:
                    if not isinstance(item, (VideoFrame, AudioClip)):
                        continue  # decoder errors and bounds while joining mid-stream, before the first picture
                    healthy = True
                    samples = math.ceil(self._end * SAMPLE_RATE)
                    offset = Fraction(samples, SAMPLE_RATE)
                    self.connects += 1
                    outage = now - self._lost_at if self._lost_at is not None else 0.0
                    self._lost_at = None
                    yield Arrival(SourceStatus("connected", offset, connects=self.connects, outage=outage,
                                               connect_seconds=now - conn.started,
                                               streams=tuple(conn.report.streams)), now)
                item = _shift(item, offset, samples)
                reach = _reach(item)
                if reach is not None:
                    self._end = max(self._end, reach)
                    watch.alive(now)
                yield Arrival(item, now, conn.number)
                watch.alive(self.clock())  # the consumer may have kept us waiting
        except _Interrupted as exc:
            return healthy, exc.reason
        except StreamfuseError as exc:
            return healthy, str(exc)
        finally:
            conn.end()
            self.frames_decoded += conn.report.frames_decoded
            self.decode_errors += conn.report.decode_errors
            self._pumped = True  # counted: decode_errors_total must not add it again
            if self.tap is not None:
                _tapped(self.tap.closed, conn.number)
        return healthy, "the feed ended"
