"""``streamfuse watch URL [--serve HOST:PORT] [--sink URI]... [-c CONFIG] [--set key=value]... [--token T]``

(``streamfuse watch -c cameras.yaml [--runtime ray] [--address RAY] ...`` watches a camera fleet: see
:mod:`streamfuse.fleet.cli`.)

Runs a live feed through the pipeline until SIGINT or SIGTERM; events go to the live server (with
``--serve``) and to every sink. Status goes to stderr: where it serves, one line per connect, loss
and failed reconnect attempt, and a summary at the end. Bad usage, a bad URL, an unreachable feed or
a bad sink URI: one line on stderr and exit code 2.
"""

from __future__ import annotations

import dataclasses
import argparse
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Callable, Iterator

from ..errors import ConfigError
from .common import EXIT_OK, _add_config_args, _Parser


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="streamfuse watch", description="Analyse a live feed until stopped (Ctrl-C).")
    p.add_argument("url", metavar="URL", nargs="?", default=None,
                   help="rtsp://, rtmp://, srt://, udp://, tcp://, http(s):// (HLS .m3u8), or a capture "
                        "device /dev/videoN; omit it to watch the cameras: of a -c config file")
    p.add_argument("--serve", metavar="HOST:PORT", default=None,
                   help="serve events over HTTP: /events (SSE), /ws, /health, /metrics")
    p.add_argument("--sink", action="append", default=[], metavar="URI",
                   help="also send events to URI: a .jsonl path, file://, mqtt://, redis://, nats://, "
                        "http(s):// webhook (repeatable)")
    p.add_argument("--token", default=None, metavar="T",
                   help="bearer token the server requires (default $STREAMFUSE_TOKEN); needed to serve "
                        "on a non-loopback address")
    p.add_argument("--runtime", choices=["local", "ray"], default=None,
                   help="where a -c cameras.yaml fleet runs: local (this process, the default) or ray "
                        "(its cameras spread over the Ray cluster's nodes)")
    p.add_argument("--address", default=None, metavar="RAY",
                   help="join this Ray cluster (implies --runtime ray), e.g. ray://head:10001 or auto")
    _add_config_args(p)
    return p


def parse_host_port(text: str) -> tuple[str, int]:
    """``127.0.0.1:8765``, ``[::1]:8765``, ``:8765`` (loopback) -> ``(host, port)``."""
    host, sep, port = text.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ConfigError(f"--serve {text!r}: expected HOST:PORT, e.g. --serve 127.0.0.1:8765")
    return host, int(port)


def _say(text: str) -> None:
    print(f"streamfuse: {text}", file=sys.stderr, flush=True)


def _status_printer(display: str) -> Callable:
    def show(status) -> None:
        streams = ", ".join(status.streams) or "no streams"
        if status.kind == "connected" and status.connects == 1:
            _say(f"connected to {display} ({streams}) in {status.connect_seconds:.1f} s")
        elif status.kind == "connected":
            _say(f"reconnected to {display} after {status.outage:.1f} s offline ({streams})")
        elif status.kind == "lost":
            _say(f"lost {display} at {float(status.media):.1f} s: {status.reason}; reconnecting")
        elif status.kind == "retry":
            _say(f"reconnect attempt {status.attempt} failed: {status.reason}; next in {status.delay:.1f} s")
    return show


@contextmanager
def _stop_on_signals(stop: Callable[[], None]) -> Iterator[None]:
    """SIGINT/SIGTERM call ``stop`` (a second one interrupts at once); old handlers come back after."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received = []

    def handler(signum, frame) -> None:
        if received:
            raise KeyboardInterrupt
        received.append(signum)
        stop()

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def run_watch_cli(argv: list[str]) -> int:
    from ..config.loader import load_config
    from ..runtime.live import LivePipeline
    from ..serve.metrics import Metrics
    from ..sinks.uri import open_configured_sink
    from ..sources.live import live_source

    args = build_parser().parse_args(argv)
    from ..fleet.config import has_cameras
    fleet = has_cameras(args.config)
    if args.url is None and not fleet:
        raise ConfigError("give a feed URL, or a config file with a cameras: section (-c cameras.yaml)")
    if fleet:
        if args.url is not None:
            raise ConfigError(f"{args.url}: give either a URL or a config file with cameras:, not both")
        from ..fleet.cli import run_fleet_cli
        return run_fleet_cli(args)
    if args.runtime == "ray" or args.address:
        raise ConfigError("--runtime ray spreads the cameras of a fleet (-c cameras.yaml with a cameras: "
                          "section) over a Ray cluster; one URL is watched in this process")
    config = load_config(args.config, args.sets)
    source = live_source(args.url)
    address = parse_host_port(args.serve) if args.serve else None
    metrics = Metrics()
    sinks: list = []
    on_window = None
    try:
        for uri in args.sink:
            sink = open_configured_sink(uri, config.sinks)
            sinks.append(sink)
            metrics.watch_sink(sink)
        if address is not None:
            from ..serve.server import EventServer
            from ..match.live import live_queries, window_hook
            queries = live_queries(config)  # q= subscriptions scored against pictures (models.image_text)
            server = EventServer(address[0], address[1], token=args.token, metrics=metrics, queries=queries,
                                 **dataclasses.asdict(config.serve))
            sinks.insert(0, server)
            on_window = window_hook(queries, server.emit) if queries is not None else None
            _say(f"serving events on {server.url}/events (SSE) and {server.url.replace('http', 'ws', 1)}/ws; "
                 f"metrics on {server.url}/metrics")
        pipeline = LivePipeline(source, config, sinks, metrics=metrics, on_status=_status_printer(source.display),
                                on_window=on_window)
        pipeline.open()  # an unreachable feed fails here, before models load
        _say(f"watching {source.display}; stop with Ctrl-C")
        with _stop_on_signals(pipeline.stop):
            stats = pipeline.run()
        p50, p95 = stats.latency(0.5), stats.latency(0.95)
        latency = f"latency p50 {p50:.2f} s, p95 {p95:.2f} s" if p50 is not None else "no windows"
        dropped = sum(stats.dropped.values())
        failed = "".join(f", {n} events refused by sink {name}" for name, n in stats.sink_failures.items())
        _say(f"stopped: {stats.windows} windows, {sum(stats.events.values())} events, {dropped} frames dropped "
             f"of {stats.frames_in}, {stats.reconnects} reconnects{failed}; {latency}")
        return EXIT_OK
    finally:
        for sink in reversed(sinks):
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - closing the others matters more
                _say(f"closing {getattr(sink, 'name', 'a sink')} failed: {exc}")
