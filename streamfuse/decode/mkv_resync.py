"""Resynchronise a damaged Matroska file inside a cluster.

FFmpeg's Matroska demuxer recovers from damage only at the next cluster (a level-1 element); a file
written as one long cluster (common for short clips: one cluster per keyframe, and a clip with one
keyframe) therefore ends at the first corrupt byte. :func:`resume_after` finds the first intact
block after the damage and :func:`open_resumed` opens a view of the file made of its header, a
cluster start carrying the damaged cluster's timestamp, and the bytes from that block on, so that
FFmpeg reads the rest with the same track layout and exact timestamps.

A block is taken as intact only when it and the element after it both parse (EBML ids and sizes,
a known track number, sizes inside the file), so random bytes are not mistaken for one. Element
ids and layout: the Matroska specification (RFC 9559).
"""

from __future__ import annotations

import io
import mmap
import os
from dataclasses import dataclass

import av

EBML_HEADER = 0x1A45DFA3
SEGMENT = 0x18538067
CLUSTER = 0x1F43B675
TIMESTAMP = 0xE7
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
BLOCK = 0xA1
_CRC32 = 0xBF
#: elements that may follow a block inside or after a cluster
_AFTER_BLOCK = frozenset({SIMPLE_BLOCK, BLOCK_GROUP, CLUSTER, 0xEC, 0x1C53BB6B, 0x1254C367, 0xA7, 0xAB})
#: level-1 elements of a segment, walked (by size) to find the first cluster
_LEVEL1 = frozenset({0x114D9B74, 0x1549A966, 0x1654AE6B, 0x1254C367, 0x1C53BB6B, 0x1043A770, 0x1941A469, 0xEC})
#: a packet's position and size leave out up to this many bytes of its block's header
_HEADER_SLACK = 32
#: how far past the damage a block is searched for
MAX_SCAN = 64 << 20
_UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"


def _vint(buf, o: int, keep_marker: bool) -> tuple[int, int] | None:
    """An EBML variable-length integer at ``o``: ``(value, length)``; None if it cannot be one.
    Sizes (marker removed) whose bits are all ones mean 'unknown' and come back as -1."""
    if o >= len(buf):
        return None
    first = buf[o]
    if first == 0:
        return None
    length = 9 - first.bit_length()
    if o + length > len(buf):
        return None
    value = first if keep_marker else first & (0xFF >> length)
    for b in buf[o + 1:o + length]:
        value = (value << 8) | b
    if not keep_marker and value == (1 << (7 * length)) - 1:
        value = -1
    return value, length


def _element(buf, o: int) -> tuple[int, int, int] | None:
    """``(id, header length, data size or -1)`` of the element at ``o``, or None."""
    ident = _vint(buf, o, keep_marker=True)
    if ident is None or ident[1] > 4:
        return None
    size = _vint(buf, o + ident[1], keep_marker=False)
    if size is None:
        return None
    return ident[0], ident[1] + size[1], size[0]


def first_cluster(buf) -> int | None:
    """Byte offset of the first cluster, found by walking the segment's level-1 elements."""
    head = _element(buf, 0)
    if head is None or head[0] != EBML_HEADER or head[2] < 0:
        return None
    o = head[1] + head[2]
    seg = _element(buf, o)
    if seg is None or seg[0] != SEGMENT:
        return None
    o += seg[1]
    while o < len(buf):
        el = _element(buf, o)
        if el is None:
            return None
        if el[0] == CLUSTER:
            return o
        if el[0] not in _LEVEL1 or el[2] < 0:
            return None
        o += el[1] + el[2]
    return None


def _block_ok(buf, o: int, tracks: int) -> tuple[int, int] | None:
    """``(total length, timestamp relative to its cluster)`` of an intact block element at ``o``
    (SimpleBlock or BlockGroup), else None."""
    el = _element(buf, o)
    if el is None or el[0] not in (SIMPLE_BLOCK, BLOCK_GROUP) or el[2] < 4 or o + el[1] + el[2] > len(buf):
        return None
    body = o + el[1]
    if el[0] == BLOCK_GROUP:
        inner = _element(buf, body)
        if inner is None or inner[0] != BLOCK or inner[2] < 4 or inner[1] + inner[2] > el[2]:
            return None
        body += inner[1]
    track = _vint(buf, body, keep_marker=False)
    if track is None or not 1 <= track[0] <= tracks or body + track[1] + 2 > len(buf):
        return None
    relative = int.from_bytes(buf[body + track[1]:body + track[1] + 2], "big", signed=True)
    return el[1] + el[2], relative


def _cluster_timestamp(buf, o: int) -> int | None:
    """The Timestamp of the cluster starting at ``o`` (in the segment's timestamp scale), or None."""
    el = _element(buf, o)
    if el is None or el[0] != CLUSTER:
        return None
    o += el[1]
    for _ in range(3):  # the Timestamp comes first, after an optional CRC-32 and Void
        child = _element(buf, o)
        if child is None or child[2] < 0:
            return None
        if child[0] == TIMESTAMP:
            if not 1 <= child[2] <= 8:
                return None
            return int.from_bytes(buf[o + child[1]:o + child[1] + child[2]], "big")
        if child[0] not in (_CRC32, 0xEC):
            return None
        o += child[1] + child[2]
    return None


@dataclass(frozen=True)
class Resume:
    """Where reading can go on: ``offset`` of an intact block (or cluster) after the damage;
    ``timestamp`` the cluster timestamp its block times are relative to (None: it is a cluster)."""

    offset: int
    timestamp: int | None
    header_end: int  # bytes [0, header_end) are the file's header, up to its first cluster


def resume_after(path: str, damaged_at: int, tracks: int, not_before: int) -> Resume | None:
    """The first intact block or cluster at or after byte ``damaged_at`` of the Matroska file at
    ``path`` (within :data:`MAX_SCAN` bytes), or None when there is none. ``tracks`` is the highest
    track number; a block is taken only when its timestamp (in the file's timestamp units) is at
    least ``not_before``: when the damage destroyed the header of the cluster it is in, its times
    are not known, and reading goes on at the next intact cluster instead."""
    with open(path, "rb") as fh:
        if os.fstat(fh.fileno()).st_size == 0:
            return None
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
            header_end = first_cluster(buf)
            if header_end is None or damaged_at <= header_end:
                return None
            # the cluster the damage is in: the last cluster id before it that parses; blocks past
            # its end (when its size is known) belong to a cluster whose header was destroyed
            cluster_ts = None
            back = damaged_at
            while cluster_ts is None:
                back = buf.rfind(CLUSTER.to_bytes(4, "big"), header_end, back)
                if back < 0:
                    return None
                cluster_ts = _cluster_timestamp(buf, back)
            head = _element(buf, back)
            cluster_end = back + head[1] + head[2] if head[2] >= 0 else len(buf)
            end = min(len(buf), damaged_at + MAX_SCAN)
            for o in range(damaged_at, end):
                b = buf[o]
                if b == 0x1F and buf[o:o + 4] == CLUSTER.to_bytes(4, "big") and _cluster_timestamp(buf, o) is not None:
                    return Resume(o, None, header_end)
                if b not in (SIMPLE_BLOCK, BLOCK_GROUP):
                    continue
                block = _block_ok(buf, o, tracks)
                if block is None:
                    continue
                after = o + block[0]
                nxt = _element(buf, after) if after < len(buf) else None
                if after == len(buf) or (nxt is not None and nxt[0] in _AFTER_BLOCK
                                         and (nxt[0] not in (SIMPLE_BLOCK, BLOCK_GROUP) or _block_ok(buf, after, tracks))):
                    if o < cluster_end and cluster_ts + block[1] >= not_before:
                        return Resume(o, cluster_ts, header_end)
    return None


def runs_past_end(path: str, at: int) -> bool:
    """Whether the file was cut short where reading stopped (``at``, the end of the last packet
    read, give or take a block header), rather than damaged: it ends there, or a block or cluster
    starting there claims more bytes than the file has."""
    with open(path, "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(at)
        head = fh.read(_HEADER_SLACK + 12)
    if at + _HEADER_SLACK >= size:
        return True
    for k in range(_HEADER_SLACK):
        el = _element(head, k)
        if el is not None and el[0] in (SIMPLE_BLOCK, BLOCK_GROUP, CLUSTER) and at + k + el[1] + el[2] > size:
            return True
    return False


class _Spliced(io.RawIOBase):
    """A read-only, seekable view made of byte strings and ranges of one file, in order."""

    def __init__(self, path: str, parts: list[bytes | tuple[int, int]]) -> None:
        self._fh = open(path, "rb")
        self._parts = []
        pos = 0
        for part in parts:
            length = len(part) if isinstance(part, bytes) else part[1] - part[0]
            self._parts.append((pos, length, part))
            pos += length
        self._size = pos
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def readinto(self, out) -> int:
        view = memoryview(out).cast("B")
        done = 0
        for start, length, part in self._parts:
            if done == len(view) or self._pos >= self._size:
                break
            if not start <= self._pos < start + length:
                continue
            skip = self._pos - start
            n = min(len(view) - done, length - skip)
            if isinstance(part, bytes):
                view[done:done + n] = part[skip:skip + n]
            else:
                self._fh.seek(part[0] + skip)
                n = self._fh.readinto(view[done:done + n]) or 0
                if n == 0:
                    break
            done += n
            self._pos += n
        return done

    def close(self) -> None:
        self._fh.close()
        super().close()


class Resumed:
    """The rest of a damaged Matroska file, opened with PyAV: its header followed by the bytes from
    ``resume.offset`` on (behind a cluster start with the damaged cluster's timestamp when resuming
    inside one). ``file_offset(pos)`` maps a packet position in it back to the file's."""

    def __init__(self, path: str, resume: Resume) -> None:
        parts: list[bytes | tuple[int, int]] = [(0, resume.header_end)]
        lead = resume.header_end
        if resume.timestamp is not None:
            start = CLUSTER.to_bytes(4, "big") + _UNKNOWN_SIZE + bytes([TIMESTAMP, 0x88])
            parts.append(start + resume.timestamp.to_bytes(8, "big"))
            lead += len(parts[-1])
        parts.append((resume.offset, os.path.getsize(path)))
        self._shift = resume.offset - lead
        self._view = _Spliced(path, parts)
        try:
            self.container = av.open(self._view, mode="r", format="matroska", metadata_errors="replace")
        except BaseException:
            self._view.close()
            raise

    def file_offset(self, pos: int) -> int:
        return pos + self._shift

    def close(self) -> None:
        try:
            self.container.close()
        finally:
            self._view.close()
