"""A paced live MPEG-TS feed on loopback, for testing live inputs without a camera.

:class:`LiveFeed` encodes one loop of video and audio once (a red box crossing a dark frame, with a
white flash and a 1 kHz beep at known times in each loop), then sends it as MPEG-TS paced to the
wall clock, looping with ever-increasing timestamps, the way a camera or an encoder does:

- ``transport="tcp"``: it listens on ``127.0.0.1:port`` and streams to every client that connects
  (a client joins mid-stream, as with a real camera); open ``feed.url`` (``tcp://127.0.0.1:PORT``).
- ``transport="udp"``: it sends datagrams of 7 TS packets to ``127.0.0.1:port``, where the reader
  listens (``udp://127.0.0.1:PORT``).

``flash_walls`` records the ``time.monotonic()`` at which each flash frame was sent, so a test can
measure end-to-end latency. ``stop()`` and ``start()`` again simulate a dropped feed (same port);
``hold()`` stalls it (or one of its streams) with the connection open; ``inject(data)`` sends raw
bytes into the stream (garbage). ``speech=PATH`` puts a recording (its first channel, at most one
loop of it) into every loop's audio from ``speech_at`` seconds on, instead of the beeps, so a test
can stop a feed in the middle of a sentence. Only loopback; no subprocess.
"""

from __future__ import annotations

import functools
import io
import socket
import threading
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

import av
import numpy as np

#: one loop lasts this long: a whole number of 40 ms video frames and of 24 ms MP2 audio frames
LOOP = Fraction(24, 5)
_AUDIO_RATE = 48_000
_DARK, _WHITE, _RED = (40, 40, 40), (255, 255, 255), (220, 40, 40)
_DATAGRAM = 7 * 188


@dataclass(frozen=True)
class _Packet:
    video: bool
    data: bytes
    pts: int
    dts: int
    key: bool
    flash: bool  # the first frame of a flash


@dataclass(frozen=True)
class _Loop:
    ts: bytes  # the encoded loop as MPEG-TS, for the stream templates
    packets: tuple[_Packet, ...]
    video_tb: Fraction
    audio_tb: Fraction | None


def _render(width: int, height: int, fps: int, flashes: tuple[Fraction, ...], flash_frames: int,
            loop: Fraction = LOOP):
    n = int(loop * fps)
    lit = {round(t * fps) + i for t in flashes for i in range(flash_frames)}
    side = max(2, height // 4)
    for k in range(n):
        img = np.empty((height, width, 3), np.uint8)
        if k in lit:
            img[:] = _WHITE
        else:
            img[:] = _DARK
            x = int(Fraction(k, n) * (width + side)) - side
            img[(height - side) // 2:(height + side) // 2, max(0, x):max(0, x + side)] = _RED
        yield k, img


def _speech_samples(path: str, at: Fraction, loop: Fraction = LOOP) -> np.ndarray:
    """One loop of audio at the feed's rate: the recording's first channel from ``at`` on."""
    out = np.zeros(int(loop * _AUDIO_RATE), np.float32)
    with av.open(path) as src:
        resampler = av.AudioResampler(format="flt", layout="mono", rate=_AUDIO_RATE)
        chunks = [f.to_ndarray().reshape(-1) for frame in src.decode(audio=0) for f in resampler.resample(frame)]
        chunks += [f.to_ndarray().reshape(-1) for f in resampler.resample(None)]
    speech = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
    start = int(at * _AUDIO_RATE)
    n = min(len(speech), len(out) - start)
    out[start:start + n] = speech[:n]
    return out


@functools.lru_cache(maxsize=8)
def _encode_loop(width: int, height: int, fps: int, flashes: tuple[Fraction, ...], audio: bool,
                 codec: str, gop: int, flash_frames: int, speech: str | None = None,
                 speech_at: Fraction = Fraction(1, 2), loop: Fraction = LOOP, beep_ms: int = 50) -> _Loop:
    """One loop, encoded once (cached): video without B-frames, MP2 audio in 24 ms frames."""
    buf = io.BytesIO()
    with av.open(buf, "w", format="mpegts") as out:
        vs = out.add_stream(codec, rate=fps)
        vs.width, vs.height, vs.pix_fmt = width, height, "yuv420p"
        vs.codec_context.gop_size = gop
        vs.codec_context.max_b_frames = 0
        if codec == "libx264":
            vs.codec_context.options = {"preset": "veryfast", "tune": "zerolatency", "bf": "0"}
        else:
            vs.codec_context.bit_rate = 1_500_000 * width * height // (640 * 360)
        vs.codec_context.time_base = Fraction(1, fps)
        aus = None
        pending: list[tuple[Fraction, av.AudioFrame]] = []
        if audio:
            aus = out.add_stream("mp2", rate=_AUDIO_RATE, layout="mono")
            aus.codec_context.bit_rate = 96_000
            samples = np.zeros(int(loop * _AUDIO_RATE), np.float32)
            for t in () if speech else flashes:
                a = int(t * _AUDIO_RATE)
                b = a + _AUDIO_RATE * beep_ms // 1000
                samples[a:b] = 0.5 * np.cos(2 * np.pi * 1000 * np.arange(b - a) / _AUDIO_RATE)
            if speech:
                samples = _speech_samples(speech, speech_at, loop)
            pcm = np.round(np.clip(samples, -1, 1) * 32767).astype(np.int16)
            for i in range(0, len(pcm), 1152):
                frame = av.AudioFrame.from_ndarray(pcm[None, i:i + 1152], format="s16", layout="mono")
                frame.sample_rate, frame.pts, frame.time_base = _AUDIO_RATE, i, Fraction(1, _AUDIO_RATE)
                pending.append((Fraction(i, _AUDIO_RATE), frame))
        for k, img in _render(width, height, fps, flashes, flash_frames, loop):
            while pending and pending[0][0] <= Fraction(k, fps):
                out.mux(aus.encode(pending.pop(0)[1]))
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, fps)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        for _, frame in pending:
            out.mux(aus.encode(frame))
        if aus is not None:
            out.mux(aus.encode(None))
    data = buf.getvalue()
    flash_frames_at = {round(t * fps) for t in flashes}
    packets = []
    with av.open(io.BytesIO(data), format="mpegts") as src:
        v = src.streams.video[0]
        a = src.streams.audio[0] if src.streams.audio else None
        vframe = 0
        for p in src.demux():
            if p.size == 0 or p.dts is None:
                continue
            is_video = p.stream.type == "video"
            flash = is_video and vframe in flash_frames_at
            vframe += is_video
            packets.append(_Packet(is_video, bytes(p), p.pts, p.dts, p.is_keyframe, flash))
        video_tb, audio_tb = v.time_base, (a.time_base if a is not None else None)
    first = min(p.dts * (video_tb if p.video else audio_tb) for p in packets)
    rebased = []
    for p in packets:
        tb = video_tb if p.video else audio_tb
        shift = int(first / tb)
        rebased.append(_Packet(p.video, p.data, p.pts - shift, p.dts - shift, p.key, p.flash))
    rebased.sort(key=lambda p: p.dts * (video_tb if p.video else audio_tb))
    return _Loop(data, tuple(rebased), video_tb, audio_tb)


class _Fanout:
    """The file object the muxer writes to: bytes go to every connected TCP client, or as UDP
    datagrams. Never blocks the sender for long: a client that cannot keep up is dropped."""

    def __init__(self, transport: str, host: str, port: int) -> None:
        self.transport = transport
        self.target = (host, port)
        self.clients: list[socket.socket] = []
        self.lock = threading.Lock()
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM) if transport == "udp" else None
        self.bytes_sent = 0

    def write(self, data) -> int:
        data = bytes(data)
        if self.udp is not None:
            for i in range(0, len(data), _DATAGRAM):
                try:
                    self.udp.sendto(data[i:i + _DATAGRAM], self.target)
                except OSError:
                    pass
        else:
            with self.lock:
                for c in list(self.clients):
                    try:
                        c.sendall(data)
                    except OSError:
                        self.clients.remove(c)
                        c.close()
        self.bytes_sent += len(data)
        return len(data)

    def flush(self) -> None:
        pass

    def add(self, client: socket.socket) -> None:
        client.settimeout(2.0)
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.lock:
            self.clients.append(client)

    def close(self) -> None:
        with self.lock:
            for c in self.clients:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self.clients.clear()
        if self.udp is not None:
            self.udp.close()


class LiveFeed:
    """A paced MPEG-TS feed on loopback (see the module docstring). Use as a context manager, or
    ``start()`` / ``stop()``; ``stop()`` joins every thread it started."""

    def __init__(self, transport: Literal["tcp", "udp"] = "tcp", port: int = 0, *, size: tuple[int, int] = (320, 240),
                 fps: int = 25, flashes: tuple[float, ...] = (1.0,), audio: bool = True, codec: str = "mpeg2video",
                 gop: int = 12, flash_frames: int = 3, host: str = "127.0.0.1", speech: str | None = None,
                 speech_at: float = 0.5, loop: Fraction = LOOP, beep_ms: int = 50) -> None:
        """``loop``: seconds of one loop, a whole number of 40 ms video and 24 ms audio frames (4.8, 6,
        7.2...); ``flashes``: times in the loop of a flash and its ``beep_ms`` beep."""
        if (loop * 25).denominator != 1 or (loop * 1000 / 24).denominator != 1:
            raise ValueError(f"loop {loop} s is not a whole number of 40 ms and 24 ms frames")
        self.loop = Fraction(loop)
        if transport not in ("tcp", "udp"):
            raise ValueError(f"transport must be 'tcp' or 'udp', got {transport!r}")
        self.transport = transport
        self.host = host
        self.size = size
        self.fps = fps
        self.flashes = tuple(Fraction(f).limit_denominator(fps) for f in flashes)
        self._loop = _encode_loop(size[0], size[1], fps, self.flashes, audio, codec, gop, flash_frames,
                                  str(speech) if speech else None, Fraction(speech_at).limit_denominator(1000),
                                  self.loop, beep_ms)
        self.port = port or _free_port(transport, host)
        #: ``time.monotonic()`` at which each flash frame was sent, and its media time in the feed
        self.flash_walls: list[float] = []
        self.flash_media: list[float] = []
        self.frames_sent = 0
        self.started_at: float | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._server: socket.socket | None = None
        self._fanout: _Fanout | None = None
        self._loops_done = 0  # timestamps keep increasing across stop/start, as a restarted encoder's may not
        self._held: frozenset[str] = frozenset()

    @property
    def url(self) -> str:
        return f"{self.transport}://{self.host}:{self.port}"

    @property
    def running(self) -> bool:
        return any(t.is_alive() for t in self._threads)

    @property
    def clients(self) -> int:
        return len(self._fanout.clients) if self._fanout is not None else 0

    def start(self) -> "LiveFeed":
        if self.running:
            return self
        self._stop.clear()
        self._fanout = _Fanout(self.transport, self.host, self.port)
        if self.transport == "tcp":
            server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            server.bind((self.host, self.port))
            server.listen(8)
            server.settimeout(0.1)
            self._server = server
            self._threads.append(threading.Thread(target=self._accept, name=f"feed-accept-{self.port}", daemon=True))
        self._threads.append(threading.Thread(target=self._send, name=f"feed-send-{self.port}", daemon=True))
        for t in self._threads:
            t.start()
        return self

    def stop(self) -> None:
        """Stop sending and close every connection (the reader sees the feed drop)."""
        self._stop.set()
        for t in self._threads:
            t.join(timeout=10)
        self._threads.clear()
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._fanout is not None:
            self._fanout.close()
            self._fanout = None

    def wait_for_client(self, timeout: float = 10.0) -> bool:
        """TCP: True once a reader is connected."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.clients:
                return True
            time.sleep(0.02)
        return False

    def hold(self, *streams: str) -> None:
        """Stop sending the packets of ``streams`` ("video", "audio"; none given: both), keeping the
        connections open: holding both stalls the feed, holding "audio" silences its audio stream.
        ``release()`` sends everything again."""
        self._held = frozenset(streams or ("video", "audio"))

    def release(self) -> None:
        self._held = frozenset()

    def inject(self, data: bytes) -> None:
        """Send raw bytes (garbage) into the stream, between two TS packets' worth of writes."""
        if self._fanout is not None:
            self._fanout.write(data)

    def __enter__(self) -> "LiveFeed":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- threads -----------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stop.is_set():
            server = self._server
            if server is None:
                return
            try:
                client, _ = server.accept()
            except (TimeoutError, socket.timeout):
                continue
            except OSError:
                return
            if self._fanout is not None:
                self._fanout.add(client)

    def _send(self) -> None:
        loop = self._loop
        fanout = self._fanout
        with av.open(io.BytesIO(loop.ts), format="mpegts") as src, \
                av.open(fanout, "w", format="mpegts",
                        options={"flush_packets": "1", "pes_payload_size": "0", "pat_period": "0.1",
                                 "max_interleave_delta": "100000"}) as out:
            vs = out.add_stream_from_template(src.streams.video[0])
            aus = out.add_stream_from_template(src.streams.audio[0]) if src.streams.audio else None
            vs.time_base = loop.video_tb
            if aus is not None:
                aus.time_base = loop.audio_tb
            t0 = time.monotonic()
            self.started_at = t0
            first_loop = self._loops_done
            n = first_loop
            while not self._stop.is_set():
                base = self.loop * n
                for p in loop.packets:
                    tb = loop.video_tb if p.video else loop.audio_tb
                    due = t0 + float(self.loop * (n - first_loop) + p.dts * tb)
                    delay = due - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    if ("video" if p.video else "audio") in self._held:
                        continue
                    pkt = av.Packet(p.data)
                    shift = int(base / tb)
                    pkt.pts, pkt.dts = p.pts + shift, p.dts + shift
                    pkt.time_base = tb
                    pkt.stream = vs if p.video else aus
                    if p.key:
                        pkt.is_keyframe = True
                    if p.flash:
                        self.flash_walls.append(time.monotonic())
                        self.flash_media.append(float(base + p.pts * tb))
                    try:
                        out.mux(pkt)
                    except av.error.FFmpegError:
                        pass
                    self.frames_sent += p.video
                else:
                    n += 1
                    continue
                break
            self._loops_done = n + 1


def _free_port(transport: str, host: str) -> int:
    kind = socket.SOCK_STREAM if transport == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


__all__ = ["LiveFeed", "LOOP"]
