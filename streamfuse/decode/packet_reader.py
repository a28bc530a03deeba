"""The demuxed packets of one source, in demux order, across read errors and damage.

:class:`PacketReader` yields the packets of the decoded streams and :class:`~.items.Damage` for
what it had to skip, and tracks how far in media time the packets have got (``position``):

* a read error is retried (FFmpeg resynchronises by itself) up to ``_MAX_FAILED_READS`` times in
  a row, then the rest is given up (reported truncated);
* in a file, an audio or video packet far past everything read before it (``_MAX_JUMP``) has a
  damaged timestamp: it is skipped, not believed, so that it cannot stretch the media to its time;
* in a local Matroska file, bytes FFmpeg skipped are reported as damage, and where FFmpeg stops
  before the end of the media, reading goes on at the next intact block (:mod:`.mkv_resync`); a
  file whose rest is unreadable is reported as damage to its end (``tail_damage``), one cut short
  (a block running past the end of the file) is left to the truncation check.
"""

from __future__ import annotations

import logging
import math
import os
from fractions import Fraction
from typing import Iterator

import av

from ..sources.resolve import Source
from . import mkv_resync
from .items import Damage, DemuxReport

log = logging.getLogger(__name__)

#: a packet that fails and states no duration is taken to cover this much media time
DAMAGE_FALLBACK = Fraction(1, 25)
#: read errors in a row after which the rest of the file is given up as unreadable
_MAX_FAILED_READS = 50
#: in a file, an audio or video packet this far (seconds) past everything read before it has a
#: damaged timestamp (real files interleave their streams within seconds)
_MAX_JUMP = 600
#: resynchronisations past damage in one Matroska file, at most
_MAX_RESYNCS = 100
#: blocks read after a resync may start this much before where reading had got to (B-frames)
_RESUME_SLACK = Fraction(1, 2)
#: frames a lost packet's presentation time may lie past the furthest one read (B-frame reordering)
_REORDER = 3
#: a Matroska packet starting this many bytes after the previous one ended means FFmpeg skipped
#: damaged data (intact files leave a few dozen bytes of element headers between packets)
_MKV_GAP = 1024


class PacketReader:
    """Iterate the packets of ``wanted`` (streams of ``container``) as described above.

    ``origin`` is media time 0 (stream time, seconds). ``position`` is the furthest media time a
    packet has reached, ``last_time`` the time of the last packet that had one."""

    def __init__(self, source: Source, container, wanted, origin: Fraction, report: DemuxReport) -> None:
        self.source = source
        self.container = container
        self.wanted = wanted
        self.origin = origin
        self.report = report
        self.position = Fraction(0)
        self.last_time = Fraction(0)
        self.tail_damage: Damage | None = None  # the file is unreadable from there on (damaged, not cut short)
        self.resumed: list[mkv_resync.Resumed] = []  # views of a damaged file past its damage

    def close(self) -> None:
        """Close what was opened to read past damage (the first container is the caller's)."""
        for resumed in self.resumed:
            resumed.close()
        self.resumed.clear()

    def __iter__(self) -> Iterator[av.Packet | Damage]:
        container, wanted = self.container, self.wanted
        mkv = (container.format.name.split(",")[0] == "matroska" and "://" not in self.source.uri
               and not self.source.live and os.path.isfile(self.source.uri))
        indexes = {s.index for s in wanted}
        file_offset = None  # maps packet positions of a resumed view back to the file's
        byte_end = None  # where the last packet read ended, in the file
        skipped: tuple[Fraction, Fraction, int] | None = None  # (last time, furthest time, bytes skipped)
        for _ in range(_MAX_RESYNCS + 1):
            flushes: list[av.Packet] = []
            for packet in self._demux(container, None if mkv else wanted):
                if isinstance(packet, Damage):
                    yield packet
                    return
                if mkv and not packet.size and packet.pts is None:
                    flushes.append(packet)  # PyAV's end-of-stream packets: held until no resync follows
                    continue
                if mkv and packet.pos is not None and packet.pos >= 0 and packet.size:
                    pos = file_offset(packet.pos) if file_offset else packet.pos
                    if skipped is None and byte_end is not None and pos > byte_end + _MKV_GAP:
                        skipped = (self.last_time, self.position, pos - byte_end)
                    byte_end = pos + packet.size
                if packet.stream.index not in indexes:
                    continue
                if skipped is not None:
                    damage = self._skipped(packet, *skipped)
                    if damage is not None:
                        skipped = None
                        yield damage
                if packet.stream.type != "subtitle" and not self.source.live:
                    ts = packet.pts if packet.pts is not None else packet.dts
                    if ts is not None and ts * packet.time_base - self.origin > self.position + _MAX_JUMP:
                        damage = self._jumped()
                        if damage is not None:
                            yield damage
                        continue
                self._advance(packet)
                yield packet
            resumed = self._resume(byte_end, container.streams) if mkv and byte_end is not None else None
            if resumed is None:
                yield from (p for p in flushes if p.stream.index in indexes)
                if self.tail_damage is not None:
                    yield self.tail_damage
                return
            self.resumed.append(resumed)
            container, file_offset = resumed.container, resumed.file_offset
            skipped = (self.last_time, self.position, 0)

    def _demux(self, container, wanted) -> Iterator[av.Packet | Damage]:
        """``container.demux`` retried after read errors; a last :class:`Damage` when it gives up."""
        rep = self.report
        failed_reads = 0
        demux = container.demux(wanted) if wanted is not None else container.demux()
        while True:
            try:
                packet = next(demux)
            except (StopIteration, av.error.EOFError):
                return
            except IndexError:
                # PyAV meets a packet of a stream the container found after opening (MPEG-TS adds
                # them as they appear); it is not one of ours: go on with the next packet
                demux = container.demux(wanted) if wanted is not None else container.demux()
                continue
            except av.error.FFmpegError as exc:
                # a read error inside the file: note it and try to resynchronise
                failed_reads += 1
                rep.decode_errors += 1
                if failed_reads > _MAX_FAILED_READS:
                    rep.truncated = True
                    rep.damaged.append((float(self.position), float(self.position), f"read error: {exc}"))
                    yield Damage(self.position, self.position, f"read error, gave up: {exc}")
                    return
                demux = container.demux(wanted) if wanted is not None else container.demux()
                continue
            failed_reads = 0
            yield packet

    def _advance(self, packet: av.Packet) -> None:
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is not None:
            self.last_time = max(Fraction(0), ts * packet.time_base - self.origin)
            self.position = max(self.position, self.last_time)

    def _resume(self, byte_end: int, streams) -> mkv_resync.Resumed | None:
        """The rest of a Matroska file that FFmpeg stopped reading before its media ended, or None."""
        rep = self.report
        duration = Fraction(rep.duration).limit_denominator(1000) if rep.duration else None
        if duration is None or self.position >= duration - Fraction(1, 2):
            return None
        path = self.source.uri
        # resumed blocks must not go back in time past B-frame reordering (see resume_after)
        not_before = math.floor((self.position + self.origin - _RESUME_SLACK) / streams[0].time_base)
        resume = mkv_resync.resume_after(path, byte_end, len(streams), not_before)
        if resume is None:
            if mkv_resync.runs_past_end(path, byte_end):
                return None  # cut short: reported as truncated
            reason = f"unreadable from byte {byte_end} to the end of the file"
            rep.decode_errors += 1
            rep.damaged.append((float(self.position), float(duration), reason))
            self.tail_damage = Damage(self.position, duration, reason)
            return None
        try:
            return mkv_resync.Resumed(path, resume)
        except (av.error.FFmpegError, OSError) as exc:
            log.debug("resuming %s at byte %d: %s", self.source.display, resume.offset, exc)
            return None

    def _skipped(self, packet: av.Packet, last: Fraction, furthest: Fraction, nbytes: int) -> Damage | None:
        """The damage around skipped bytes, given the time of the packet read ``last`` before them,
        the ``furthest`` time read by then, and ``packet``, the first read after them (None while
        packets come without timestamps). Frames are stored out of presentation order (B-frames):
        the lost ones' own times are gone with their headers, and may lie a few frames past the
        furthest time read, so the span runs from the earlier of those times to the later, and
        ``_REORDER`` frames on."""
        ts = packet.pts if packet.pts is not None else packet.dts
        if ts is None:
            return None
        after = max(Fraction(0), ts * packet.time_base - self.origin)
        since = min(last, after)
        until = max(furthest, after) + _REORDER * DAMAGE_FALLBACK
        reason = f"unreadable data skipped ({nbytes} bytes)" if nbytes else "unreadable data skipped"
        self.report.decode_errors += 1
        self.report.damaged.append((float(since), float(until), reason))
        return Damage(since, until, reason)

    def _jumped(self) -> Damage | None:
        """A packet whose time lies far past everything read so far: a damaged timestamp. It is
        skipped, counted, and reported once per place it happens."""
        rep = self.report
        rep.decode_errors += 1
        reason = f"timestamps jump ahead by more than {_MAX_JUMP} s (damaged); those packets were skipped"
        at = float(self.position)
        if rep.damaged and rep.damaged[-1][2] == reason and rep.damaged[-1][0] == at:
            return None
        rep.damaged.append((at, at + float(DAMAGE_FALLBACK), reason))
        return Damage(self.position, self.position + DAMAGE_FALLBACK, reason)
