"""``streamfuse watch -c cameras.yaml [--serve HOST:PORT] [--sink URI]... [--set key=value]...``

Every camera of the config's ``cameras:`` section in one process (see :mod:`.config`): one event
server, one set of sinks, the heavy models loaded once. Status lines name the camera. The config
files are re-read when they change (checked every second) or on SIGHUP: added cameras start,
removed ones stop, changed ones restart, the others keep running; a config with a mistake is
reported in one line and the running cameras are kept. SIGINT/SIGTERM stop every camera.

With ``--runtime ray`` (or ``--address RAY``, or ``runtime.kind: ray`` in the config) the cameras
run on the nodes of a Ray cluster instead (see :mod:`.ray_fleet`); events, sinks, the event server
and reloads stay here, and a camera whose node is lost is started on another one.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import threading

from ..errors import StreamfuseError
from .config import fleet_settings, load_fleet, shared_config


def _mtimes(files: list[str]) -> tuple:
    out = []
    for f in files:
        try:
            out.append(os.stat(f).st_mtime_ns)
        except OSError:
            out.append(None)
    return tuple(out)


def run_fleet_cli(args) -> int:
    from ..cli.common import EXIT_OK
    from ..cli.watch import _say, _status_printer, _stop_on_signals, parse_host_port
    from ..serve.metrics import Metrics
    from ..sinks.uri import open_configured_sink
    from .runner import Fleet

    cameras = load_fleet(args.config, args.sets)
    settings = fleet_settings(args.config, args.sets)
    shared = shared_config(args.config, args.sets)  # sinks and serve settings (shared by the fleet)
    address = parse_host_port(args.serve) if args.serve else None
    metrics = Metrics()
    sinks: list = []
    printers: dict[str, object] = {}

    def on_status(name: str, status) -> None:
        show = printers.get(name)
        if show is not None:
            show(status)

    def on_error(name: str, exc: BaseException) -> None:
        _say(f"camera {name} stopped: {exc}; the other cameras keep running")

    runtime = getattr(args, "runtime", None) or ("ray" if getattr(args, "address", None) else shared.runtime.kind)
    fleet = None
    try:
        for uri in args.sink:
            sink = open_configured_sink(uri, shared.sinks)
            sinks.append(sink)
            metrics.watch_sink(sink)
        if address is not None:
            from ..serve.server import EventServer
            server = EventServer(address[0], address[1], token=args.token, metrics=metrics,
                                 **dataclasses.asdict(shared.serve))
            sinks.insert(0, server)
            _say(f"serving events on {server.url}/events (SSE) and {server.url.replace('http', 'ws', 1)}/ws; "
                 f"metrics on {server.url}/metrics")
        media_url = f"{sinks[0].url}/media" if address is not None else None
        if runtime == "ray":
            from .ray_fleet import RayFleet

            def on_move(name: str, was: str, now: str) -> None:
                _say(f"camera {name} moved from node {was} to node {now}")

            fleet = RayFleet(sinks, address=getattr(args, "address", None) or shared.runtime.ray_address,
                             metrics=metrics, on_status=on_status, on_error=on_error, on_move=on_move,
                             media_url=media_url, **settings)
        else:
            fleet = Fleet(sinks, metrics=metrics, on_status=on_status, on_error=on_error, media_url=media_url,
                          **settings)
        if address is not None:
            sinks[0].health_extra = lambda: {"cameras": fleet.health() if fleet is not None else {}}
            sinks[0].media_folders = fleet.media_folders  # snapshots and clips, served from there only

        def start(cams) -> None:
            for c in cams:
                printers[c.name] = _status_printer(f"{c.name} ({c.source.display})")

        start(cameras)
        fleet.start(cameras)
        if runtime == "ray":
            where = fleet.where()
            _say(f"watching {len(cameras)} cameras on {len(set(where.values()) - {None})} Ray nodes ("
                 + ", ".join(f"{name} on {node or 'no node yet'}" for name, node in where.items())
                 + "); stop with Ctrl-C")
        else:
            _say(f"watching {len(cameras)} cameras ({', '.join(c.name for c in cameras)}); stop with Ctrl-C")
        stop = threading.Event()
        hup = threading.Event()
        old_hup = signal.signal(signal.SIGHUP, lambda *_: hup.set()) \
            if threading.current_thread() is threading.main_thread() else None
        seen = _mtimes(args.config)
        try:
            with _stop_on_signals(stop.set):
                while not stop.wait(1.0):
                    now = _mtimes(args.config)
                    if now == seen and not hup.is_set():
                        continue
                    seen = now
                    hup.clear()
                    try:
                        new = load_fleet(args.config, args.sets)
                    except StreamfuseError as exc:
                        _say(f"reload failed: {exc}; keeping the running cameras")
                        continue
                    start(new)
                    change = fleet.reload(new)
                    _say("reloaded: " + ", ".join(f"{k} {', '.join(v)}" for k, v in change.items() if v)
                         if any(change.values()) else "reloaded: no camera changed")
        finally:
            if old_hup is not None:
                signal.signal(signal.SIGHUP, old_hup)
        all_stats = fleet.stop()
        fleet = None
        for name, stats in sorted(all_stats.items()):
            p95 = stats.latency(0.95)
            latency = f"latency p95 {p95:.2f} s" if p95 is not None else "no windows"
            _say(f"stopped {name}: {stats.windows} windows, {sum(stats.events.values())} events, "
                 f"{sum(stats.dropped.values())} frames dropped of {stats.frames_in}, {stats.reconnects} "
                 f"reconnects; {latency}")
        return EXIT_OK
    finally:
        if fleet is not None:
            fleet.stop()
        for sink in reversed(sinks):
            try:
                sink.close()
            except Exception as exc:  # noqa: BLE001 - closing the others matters more
                _say(f"closing {getattr(sink, 'name', 'a sink')} failed: {exc}")


__all__ = ["run_fleet_cli"]
