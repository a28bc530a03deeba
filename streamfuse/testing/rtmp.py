"""A real RTMP server for tests (nginx with ``libnginx-mod-rtmp``) and a paced publisher.

:class:`NginxRtmp` starts ``nginx`` in the foreground on a loopback port with a ``live``
application, in a temporary prefix folder; ``stop()`` / ``start()`` again simulate a server
restart. With ``token``, a player must give it (``rtmp://.../live/NAME?token=...``): nginx asks
a small HTTP check on loopback (``on_play``) before it lets a player in, the way a real deployment
guards its streams. :class:`RtmpPublisher` sends a moving red box on dark grey (H.264, 320x240, 25 fps) to
``rtmp://127.0.0.1:PORT/live/NAME`` paced to the wall clock, the way an encoder does, and
publishes again (timestamps running on) when the server drops it.
"""

from __future__ import annotations

import http.server
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .process import stop_process, wait_until

MODULE = Path("/usr/lib/nginx/modules/ngx_rtmp_module.so")


def available() -> bool:
    return shutil.which("nginx") is not None and MODULE.is_file()


class _PlayCheck(http.server.BaseHTTPRequestHandler):
    """nginx-rtmp's ``on_play`` callback: 2xx lets the player in, anything else turns it away."""

    token = ""
    refused = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode())
        ok = form.get("token") == [type(self).token]
        if not ok:
            type(self).refused += 1
        self.send_response(200 if ok else 403)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:  # quiet
        pass


class NginxRtmp:
    def __init__(self, port: int = 0, token: str | None = None) -> None:
        self.port = port or _free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="streamfuse-rtmp-"))
        (self.folder / "logs").mkdir()
        self.conf = self.folder / "nginx.conf"
        self._check: http.server.ThreadingHTTPServer | None = None
        on_play = ""
        if token is not None:
            handler = type("PlayCheck", (_PlayCheck,), {"token": token})
            self._check = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
            threading.Thread(target=self._check.serve_forever, name="rtmp-play-check", daemon=True).start()
            on_play = f" on_play http://127.0.0.1:{self._check.server_address[1]}/play;"
        self.conf.write_text(
            f"daemon off;\nmaster_process off;\nworker_processes 1;\nload_module {MODULE};\n"
            f"error_log {self.folder}/logs/error.log;\npid {self.folder}/nginx.pid;\n"
            "events { worker_connections 64; }\n"
            f"rtmp {{ server {{ listen 127.0.0.1:{self.port}; application live {{ live on; record off;{on_play} }} }} }}\n")
        self.proc: subprocess.Popen | None = None

    @property
    def refused(self) -> int:
        """Players turned away for a wrong or missing token."""
        return self._check.RequestHandlerClass.refused if self._check is not None else 0

    def start(self) -> "NginxRtmp":
        self.proc = subprocess.Popen(["nginx", "-p", str(self.folder), "-c", str(self.conf)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if wait_until(lambda: _listening(self.port), self.proc):
            return self
        self.stop()
        raise RuntimeError(f"nginx did not listen on {self.port}")

    def stop(self) -> None:
        stop_process(self.proc)
        self.proc = None

    def close(self) -> None:
        self.stop()
        if self._check is not None:
            self._check.shutdown()
            self._check.server_close()
        shutil.rmtree(self.folder, ignore_errors=True)


class RtmpPublisher:
    def __init__(self, url: str, fps: int = 25, size: tuple[int, int] = (320, 240)) -> None:
        self.url, self.fps, self.size = url, fps, size
        self.frames_sent = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rtmp-publisher", daemon=True)

    def start(self) -> "RtmpPublisher":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(15)

    def _frame(self, k: int) -> np.ndarray:
        w, h = self.size
        img = np.full((h, w, 3), 40, np.uint8)
        side = h // 4
        x = (k * 6) % (w + side) - side
        img[(h - side) // 2:(h + side) // 2, max(0, x):max(0, x + side)] = (220, 40, 40)
        return img

    def _run(self) -> None:
        k = 0
        t0 = time.monotonic()
        while not self._stop.is_set():
            try:
                out = av.open(self.url, "w", format="flv", timeout=2)
            except av.error.FFmpegError:
                self._stop.wait(0.2)
                continue
            try:
                vs = out.add_stream("libx264", rate=self.fps)
                vs.width, vs.height, vs.pix_fmt = self.size[0], self.size[1], "yuv420p"
                vs.codec_context.options = {"preset": "ultrafast", "tune": "zerolatency", "g": str(self.fps)}
                vs.codec_context.time_base = Fraction(1, self.fps)
                while not self._stop.is_set():
                    delay = t0 + k / self.fps - time.monotonic()
                    if delay > 0 and self._stop.wait(delay):
                        break
                    frame = av.VideoFrame.from_ndarray(self._frame(k), format="rgb24")
                    frame.pts, frame.time_base = k, Fraction(1, self.fps)
                    out.mux(vs.encode(frame))
                    k += 1
                    self.frames_sent += 1
            except (av.error.FFmpegError, OSError):
                pass  # the server went away: publish again
            finally:
                try:
                    out.close()
                except Exception:  # noqa: BLE001 - a broken connection cannot be closed cleanly
                    pass


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


__all__ = ["NginxRtmp", "RtmpPublisher", "available"]
