"""Fixtures for sink tests: events, and broker processes of our own for outage tests.

Real brokers, no mocks: the shared ones on their default ports (Redis 6379, NATS with JetStream
4222, Mosquitto 1883) and, for outages and credentials, our own ``redis-server``, ``nats-server``
and ``mosquitto`` processes on free loopback ports, stopped and restarted by the test.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any, Callable

import pytest

from streamfuse.testing.events import build_events as _build_events

SHARED = {"redis": ("127.0.0.1", 6379), "nats": ("127.0.0.1", 4222), "mqtt": ("127.0.0.1", 1883)}
BINARIES = {"redis": "redis-server", "nats": "nats-server", "mqtt": "mosquitto"}


def port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def build_events(n: int, **kw) -> list[dict[str, Any]]:
    kw.setdefault("types", ("speech",))
    return _build_events(n, **kw)


@pytest.fixture
def make_events() -> Callable[..., list[dict[str, Any]]]:
    return build_events


@pytest.fixture(name="free_port")
def free_port_fixture() -> Callable[[], int]:
    """A function returning a free loopback TCP port."""
    return free_port


@pytest.fixture(name="need_shared")
def need_shared_fixture() -> Callable[[str], None]:
    """``need_shared("redis")`` skips the test when that shared service is not running."""
    return need_shared


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]


def need_shared(kind: str) -> None:
    host, port = SHARED[kind]
    if not port_open(host, port):
        pytest.skip(f"no {kind} service on {host}:{port}")


class Broker:
    """One broker process of our own on a free loopback port; ``stop`` / ``start`` keep the port
    and the data folder, so a restart finds what the broker persisted."""

    def __init__(self, kind: str, folder: Path, *, user: str | None = None, password: str | None = None) -> None:
        self.kind, self.folder, self.user, self.password = kind, folder, user, password
        self.port = free_port()
        self.proc: subprocess.Popen | None = None
        folder.mkdir(parents=True, exist_ok=True)

    def uri(self, path: str = "", *, user: str | None = None, password: str | None = None) -> str:
        auth = ""
        if user is not None or password is not None:
            auth = f"{user or ''}:{password or ''}@"
        scheme = {"redis": "redis", "nats": "nats", "mqtt": "mqtt"}[self.kind]
        return f"{scheme}://{auth}127.0.0.1:{self.port}{path}"

    def _command(self) -> list[str]:
        if self.kind == "redis":
            cmd = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                   "--appendonly", "no", "--daemonize", "no", "--dir", str(self.folder)]
            if self.password:
                cmd += ["--requirepass", self.password]
            return cmd
        if self.kind == "nats":
            cmd = ["nats-server", "-a", "127.0.0.1", "-p", str(self.port), "-js", "-sd", str(self.folder / "js")]
            if self.user:
                cmd += ["--user", self.user, "--pass", self.password or ""]
            return cmd
        conf = self.folder / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "persistence true", f"persistence_location {self.folder}/",
                 "autosave_interval 1", "user root"]
        if self.user:
            pw = self.folder / "passwd"
            pw.write_text("")
            subprocess.run(["mosquitto_passwd", "-b", str(pw), self.user, self.password or ""], check=True,
                           capture_output=True)
            lines += ["allow_anonymous false", f"password_file {pw}"]
        else:
            lines += ["allow_anonymous true"]
        conf.write_text("\n".join(lines) + "\n")
        return ["mosquitto", "-c", str(conf)]

    def start(self) -> "Broker":
        log = open(self.folder / f"{self.kind}.log", "ab")
        self.proc = subprocess.Popen(self._command(), stdout=log, stderr=subprocess.STDOUT)
        log.close()
        deadline = time.monotonic() + 10
        while not port_open("127.0.0.1", self.port):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.kind} did not start: "
                                   + (self.folder / f"{self.kind}.log").read_text(errors="replace")[-500:])
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None
        deadline = time.monotonic() + 5
        while port_open("127.0.0.1", self.port) and time.monotonic() < deadline:
            time.sleep(0.05)


@pytest.fixture
def broker(tmp_path: Path):
    """``broker("redis" | "nats" | "mqtt", user=..., password=...)`` starts one; all stop at the end."""
    started: list[Broker] = []

    def start(kind: str, **auth: str) -> Broker:
        if shutil.which(BINARIES[kind]) is None:
            pytest.skip(f"{BINARIES[kind]} is not installed")
        b = Broker(kind, tmp_path / f"{kind}-{len(started)}", **auth)
        started.append(b)
        return b.start()

    yield start
    for b in started:
        b.stop()
