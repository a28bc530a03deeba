"""Read ``srt://`` feeds through a local relay: Debian's ``srt-live-transmit`` (apt ``srt-tools``).

The FFmpeg inside the pinned PyAV wheel has no SRT protocol, so each connection to an ``srt://``
feed starts ``srt-live-transmit -a:no 'srt://HOST:PORT?QUERY' udp://127.0.0.1:LOCAL`` as a child
process (caller mode unless the query says ``mode=``; the query's socket options, e.g.
``passphrase``, ``streamid``, ``latency`` in milliseconds, are libsrt's and pass through as given),
and the live reader reads the MPEG-TS it forwards from ``udp://127.0.0.1:LOCAL``. The relay does
not reconnect by itself (``-a:no``): it exits when the server goes away (at once when the server
shuts down, after libsrt's 5 s peer timeout when it vanishes), and the reader's own reconnects
(backoff, ``source.lost`` / ``source.connected``) take over. The reader notices before its next
packet, or, when none comes, when its blocked UDP read times out (``live.stall_timeout``): an
FFmpeg read cannot be woken sooner.

The child's output is captured, never printed: its last line (secret query values replaced by
``***``; the line that repeats the URL dropped) says why it ended. The child's command line, which
holds the passphrase, is never logged (it is visible to local users in the process list, as for any
command-line tool given a secret). ``srt-live-transmit`` refuses ports up to 1024.
"""

from __future__ import annotations

import atexit
import collections
import re
import shutil
import socket
import subprocess
import threading
import weakref
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from ..errors import UnsupportedSourceError
from ..events.cloudevents import SECRET_PARAMS
from .resolve import Source

BINARY = "srt-live-transmit"
#: the Debian / Ubuntu package that has it
PACKAGE = "srt-tools"
#: seconds the relay is given to exit after SIGTERM before it is killed
_EXIT_WAIT = 1.0
#: query parameters whose values are secrets (those :func:`~streamfuse.events.cloudevents.redact` hides)
_SECRET = re.compile(rf"(?i)(?:{SECRET_PARAMS})$")
#: the log prefix of libsrt's lines ("09:52:03.634186/SRT:RcvQ:w1!W:SRT.cn: ")
_LOG_PREFIX = re.compile(r"^\d[\d:.]*/\S+\s+")

_running: "weakref.WeakSet[SrtRelay]" = weakref.WeakSet()


def is_srt(source: Source) -> bool:
    return source.uri[:6].lower() == "srt://"


def check(source: Source) -> None:
    """Raise a one-line error when ``source`` (an ``srt://`` URL) cannot be relayed here."""
    if "@" in urlsplit(source.uri).netloc:
        raise UnsupportedSourceError(f"{source.display}: SRT has no user:password; give the passphrase as "
                                     "?passphrase=... (and the stream as ?streamid=...)")
    if shutil.which(BINARY) is None:
        raise UnsupportedSourceError(f"{source.display}: reading SRT needs {BINARY}, which is not installed; "
                                     f"install the package {PACKAGE} (apt-get install {PACKAGE})")


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SrtRelay:
    """One ``srt-live-transmit`` child relaying ``source`` to a free loopback UDP port (:attr:`url`).

    :meth:`start` starts it; :attr:`ended` is ``None`` while it runs, then why it ended;
    :meth:`terminate` asks it to exit (safe from any thread and from a signal handler);
    :meth:`close` ends it (SIGTERM, at most ``_EXIT_WAIT`` seconds, then SIGKILL) and reaps it."""

    def __init__(self, source: Source) -> None:
        check(source)
        self.source = source
        parts = urlsplit(source.uri)
        self._target = urlunsplit(("srt", parts.netloc, parts.path, parts.query, ""))
        self._secrets = sorted({s for k, v in parse_qsl(parts.query, keep_blank_values=True)
                                if _SECRET.search(k) for s in (v, unquote(v)) if s}, key=len, reverse=True)
        self.port = _free_udp_port()
        self.url = f"udp://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen | None = None
        self._lines: collections.deque[str] = collections.deque(maxlen=8)
        self._drain: threading.Thread | None = None

    def start(self) -> "SrtRelay":
        try:
            self._proc = subprocess.Popen([BINARY, "-a:no", self._target, self.url], stdin=subprocess.DEVNULL,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                          errors="replace", start_new_session=True)
        except OSError as exc:  # not installed (any more), or not runnable: never the command line (the passphrase)
            check(self.source)
            raise UnsupportedSourceError(f"{self.source.display}: cannot run {BINARY} ({exc.strerror or exc}); "
                                         f"reinstall the package {PACKAGE}") from None
        _running.add(self)
        self._drain = threading.Thread(target=self._read, args=(self._proc.stderr,), daemon=True,
                                       name=f"srt-relay-{self.port}")
        self._drain.start()
        return self

    @property
    def ended(self) -> str | None:
        """``None`` while the relay runs; else why it ended (its last line of output, redacted)."""
        proc = self._proc
        if proc is None or proc.poll() is None:
            return None
        if self._drain is not None:
            self._drain.join(0.5)  # its last words
        last = next((ln for ln in reversed(self._lines)), "")
        return f"the SRT relay ended ({last or 'no SRT server answered'})"  # it says nothing on a connect timeout

    def terminate(self) -> None:
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                proc.terminate()
            except OSError:
                pass

    def close(self) -> None:
        proc = self._proc
        if proc is None:
            return
        self.terminate()
        try:
            proc.wait(_EXIT_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if self._drain is not None:
            self._drain.join(_EXIT_WAIT)
        _running.discard(self)

    def _read(self, stream) -> None:
        with stream:
            for line in stream:
                line = self._redacted(line.strip())
                if line:
                    self._lines.append(line)

    def _redacted(self, line: str) -> str:
        if line.startswith("Media path:"):  # repeats the URL, passphrase and all
            return ""
        for secret in self._secrets:
            line = line.replace(secret, "***")
        return _LOG_PREFIX.sub("", line)[:200]


@atexit.register
def _end_all() -> None:
    """No relay outlives the process (a reader thread left blocked at exit does not close its own)."""
    for relay in list(_running):
        relay.terminate()


__all__ = ["BINARY", "PACKAGE", "SrtRelay", "check", "is_srt"]
