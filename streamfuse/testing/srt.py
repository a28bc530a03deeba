"""A real SRT server for tests: Debian's ``srt-live-transmit`` (apt ``srt-tools``) as a listener.

:class:`SrtServer` runs ``srt-live-transmit udp://127.0.0.1:IN 'srt://127.0.0.1:PORT?mode=listener&passphrase=...'``:
it takes MPEG-TS datagrams on :attr:`~SrtServer.input_port` (point a
:class:`~streamfuse.testing.live_feed.LiveFeed` with ``transport="udp"`` at it) and serves them,
encrypted with the passphrase if one is given, to an SRT caller at :attr:`~SrtServer.url`.
``stop()`` and ``start()`` again simulate a server restart on the same ports::

    server = SrtServer(passphrase="correct-horse-battery").start()
    feed = LiveFeed("udp", port=server.input_port).start()
    # streamfuse watch <server.url>
"""

from __future__ import annotations

import shutil
import socket
import subprocess

from .process import stop_process, wait_until

BINARY = "srt-live-transmit"


def available() -> bool:
    return shutil.which(BINARY) is not None


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bound(port: int) -> bool:
    """Whether a UDP socket is bound to ``127.0.0.1:port`` (Linux: ``/proc/net/udp``)."""
    needle = f"0100007F:{port:04X} "
    with open("/proc/net/udp") as f:
        return any(needle in line for line in f)


class SrtServer:
    """An SRT listener on loopback fed over UDP (see the module docstring). A passphrase must be
    10 to 79 characters (libsrt's rule)."""

    def __init__(self, passphrase: str | None = None, port: int = 0, input_port: int = 0) -> None:
        if passphrase is not None and not 10 <= len(passphrase) <= 79:
            raise ValueError("an SRT passphrase has 10 to 79 characters")
        self.passphrase = passphrase
        self.port = port or _free_udp_port()
        self.input_port = input_port or _free_udp_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        """What a caller opens (with the passphrase in the query, when there is one)."""
        query = f"?passphrase={self.passphrase}" if self.passphrase else ""
        return f"srt://127.0.0.1:{self.port}{query}"

    def start(self) -> "SrtServer":
        listen = f"srt://127.0.0.1:{self.port}?mode=listener"
        if self.passphrase:
            listen += f"&passphrase={self.passphrase}"
        self.proc = subprocess.Popen([BINARY, f"udp://127.0.0.1:{self.input_port}", listen],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_until(lambda: _bound(self.port) and _bound(self.input_port), self.proc):
            return self
        self.stop()
        raise RuntimeError(f"{BINARY} did not listen on {self.port}")

    def stop(self) -> None:
        """Stop the server (it tells a connected caller it is going)."""
        stop_process(self.proc)
        self.proc = None

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> "SrtServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


__all__ = ["SrtServer", "available"]
