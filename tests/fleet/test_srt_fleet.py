"""``srt://`` cameras from a real SRT server (Debian's ``srt-live-transmit`` as a listener, with a
passphrase, fed by a paced loopback feed), read through the relay of :mod:`streamfuse.sources.srt_relay`:
events flow, the server is stopped and started again mid-stream, the camera reconnects with media
time running on, no relay is left behind, and the passphrase is nowhere; ``streamfuse watch`` reads
an SRT URL the same way; without ``srt-live-transmit`` an SRT camera is a one-line error naming the
package (that one runs everywhere; the others are skipped without the package, apt: srt-tools)."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from live.conftest import assert_one_line_error, config
from live.test_watch_cli import _Watch
from streamfuse.decode.live import LiveReader, SourceStatus
from streamfuse.errors import SourceUnreachableError, UnsupportedSourceError
from streamfuse.fleet.config import camera
from streamfuse.fleet.runner import Fleet
from streamfuse.runtime.live import source_decoding
from streamfuse.sources.live import live_source
from streamfuse.testing import srt
from streamfuse.testing.live_feed import LiveFeed

from .conftest import MOTION_ONLY, shared_data

#: every test but the one about its absence needs the real server
needs_srt = pytest.mark.skipif(not srt.available(), reason="needs srt-live-transmit (apt: srt-tools)")

PASSPHRASE = "hunter2-srt-secret"


@pytest.fixture
def served():
    """An SRT listener with a passphrase, and the paced loopback feed it serves; both stopped at the end."""
    s = srt.SrtServer(passphrase=PASSPHRASE).start()
    feed = LiveFeed("udp", port=s.input_port).start()
    yield s, feed
    feed.stop()
    s.close()


@pytest.fixture
def server(served):
    return served[0]


def _relays(server: srt.SrtServer) -> list[int]:
    """This process's ``srt-live-transmit`` children other than the server."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        comm, rest = stat[stat.index("(") + 1:stat.rindex(")")], stat[stat.rindex(")") + 2:].split()
        if srt.BINARY.startswith(comm) and int(rest[1]) == os.getpid() and int(pid) != server.proc.pid:
            found.append(int(pid))
    return found


@needs_srt
def test_an_srt_camera_with_a_passphrase_survives_a_server_restart(server, list_sink, caplog, capfd):
    caplog.set_level(logging.DEBUG)
    statuses: list = []
    fleet = Fleet([list_sink], on_status=lambda name, s: statuses.append(s))

    def of(kind: str) -> list:
        return [e for e in list_sink.events if e["type"] == f"streamfuse.{kind}"]

    try:
        fleet.start([camera("gate", server.url, shared_data("live.stall_timeout=1.5"))])
        assert list_sink.wait_for(lambda _: of("motion") and of("flash"), 30), statuses
        assert len(_relays(server)) == 1  # one relay for the one connection
        server.stop()
        assert list_sink.wait_for(lambda _: of("source.lost"), 10), statuses
        server.start()
        assert list_sink.wait_for(lambda _: len(of("source.connected")) >= 2, 20), statuses
        n = len(of("motion"))
        assert list_sink.wait_for(lambda _: len(of("motion")) > n, 15)
        scrape = fleet.metrics.render().decode()
        assert fleet.health()["gate"]["reconnects"] == 1
    finally:
        fleet.stop()
    assert not _relays(server)  # every connection's relay ended with it
    lost = next(s for s in statuses if s.kind == "lost")
    again = [s for s in statuses if s.kind == "connected"][1]
    assert "SRT relay ended" in lost.reason  # the server went away: the relay said so
    assert lost.media <= again.media < lost.media + 2  # media time runs on, less than a window later
    starts = [e["data"]["start"] for e in of("motion")]
    assert starts == sorted(starts) and starts[-1] > float(lost.media)
    out, err = capfd.readouterr()
    text = json.dumps(list_sink.events) + repr(statuses) + scrape + caplog.text + out + err
    assert PASSPHRASE not in text
    assert "SRT source" not in out + err  # the relay's output is captured, not printed


@needs_srt
def test_watch_reads_an_srt_url_and_never_prints_its_passphrase(server, tmp_path):
    out = tmp_path / "events.jsonl"
    watch = _Watch(server.url, "--sink", str(out), *(x for s in MOTION_ONLY for x in ("--set", s)))
    try:
        assert watch.wait_for_line("connected to srt://127.0.0.1:", 30), watch.lines
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and '"streamfuse.motion"' not in (out.read_text() if out.exists() else ""):
            time.sleep(0.1)
        code = watch.stop(signal.SIGINT)
        stdout = watch.proc.stdout.read()
    finally:
        watch.kill()
    assert code == 0, watch.lines
    assert any(f"connected to srt://127.0.0.1:{server.port}?passphrase=***" in ln for ln in watch.lines), watch.lines
    assert '"streamfuse.motion"' in out.read_text()
    printed = "\n".join(watch.lines) + stdout
    assert PASSPHRASE not in printed + out.read_text()
    relay_said = [ln for ln in printed.splitlines() if not ln.startswith("streamfuse: ")
                  and ("SRT" in ln or "Media path" in ln)]
    assert not relay_said  # the relay's output is captured, not printed


@needs_srt
def test_a_stall_ends_the_connection_and_its_relay_and_the_next_connection_has_a_new_one(served):
    server, feed = served
    cfg = config("live.stall_timeout=1")
    reader = LiveReader(live_source(server.url), source_decoding(cfg), cfg.live)
    statuses: list = []
    relays: list = []

    def read() -> None:
        for arrival in reader:
            if isinstance(arrival.item, SourceStatus):
                statuses.append(arrival.item)
                relays.append(_relays(server))

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    try:
        _wait(lambda: any(s.kind == "connected" for s in statuses), 15)
        feed.hold()  # the server stays up and connected, but sends nothing
        _wait(lambda: any(s.kind == "lost" for s in statuses), 10)
        feed.release()
        _wait(lambda: sum(s.kind == "connected" for s in statuses) == 2, 15)
    finally:
        reader.stop()
        thread.join(10)
    kinds = [s.kind for s in statuses]
    assert kinds[:3] == ["connected", "lost", "connected"], statuses
    assert statuses[1].reason.startswith("stalled"), statuses[1]
    first, second = relays[0], relays[2]
    assert len(first) == len(second) == 1 and first != second  # one relay per connection, the stalled one ended
    assert not thread.is_alive() and not _relays(server)  # stop ended the last one


def _wait(predicate, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


@needs_srt
def test_a_wrong_passphrase_is_a_one_line_error_that_says_so_without_the_passphrase(server):
    wrong = "not-the-right-passphrase"
    cfg = config("live.connect_timeout=1.5")
    url = f"srt://127.0.0.1:{server.port}?passphrase={wrong}"
    reader = LiveReader(live_source(url), source_decoding(cfg), cfg.live)
    with pytest.raises(SourceUnreachableError) as info:
        reader.open()
    message = str(info.value)
    assert "Incorrect passphrase" in message and wrong not in message and "\n" not in message
    assert not _relays(server)


@needs_srt
def test_no_server_at_the_address_is_a_one_line_error_without_the_passphrase():
    nobody = srt.SrtServer().port  # a free port nothing listens on
    cfg = config("live.connect_timeout=4", "live.stall_timeout=4")  # longer than the relay's own 3 s attempt
    url = f"srt://127.0.0.1:{nobody}?passphrase={PASSPHRASE}"
    reader = LiveReader(live_source(url), source_decoding(cfg), cfg.live)
    with pytest.raises(SourceUnreachableError) as info:
        reader.open()
    assert "no SRT server answered" in str(info.value) and PASSPHRASE not in str(info.value)


def test_without_srt_live_transmit_an_srt_url_is_a_one_line_error_naming_the_package(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing to run there
    with pytest.raises(UnsupportedSourceError, match="srt-tools"):
        live_source(f"srt://127.0.0.1:9000?passphrase={PASSPHRASE}")
    cameras = tmp_path / "cameras.yaml"
    cameras.write_text(f"cameras:\n  gate: 'srt://127.0.0.1:9000?passphrase={PASSPHRASE}'\n")
    line = assert_one_line_error(_cli(tmp_path, "watch", "-c", str(cameras)), "cameras.gate", "srt-tools")
    assert PASSPHRASE not in line


def _cli(path: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streamfuse", *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "PATH": str(path)})
