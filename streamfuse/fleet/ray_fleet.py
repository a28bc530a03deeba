"""A camera fleet spread over a Ray cluster (``streamfuse watch -c cameras.yaml --runtime ray``).

Each node that runs cameras gets one :class:`NodeFleet` actor, pinned to it (node affinity, not
soft) and never restarted by Ray: a local :class:`~.runner.Fleet` over that node's cameras (so a
node loads each model once and shares it between its cameras), whose only sink is an outbox. The
driver's :class:`RayFleet` has the interface of :class:`~.runner.Fleet` that the CLI uses
(``start``, ``reload``, ``stop``, ``health``, ``metrics``):

- A camera goes to the alive node with the fewest cameras (a node needs :data:`NODE_CPUS` CPUs;
  a head started with ``--num-cpus 0`` gets none). Nodes that join later get cameras added by a
  reload; running cameras never move to them.
- Every ``poll`` seconds (0.2) the driver drains each node (its events since the last drain, the
  cameras' statuses and errors, their health), without waiting longer than ``poll`` on a slow
  node (its drain is collected at a later poll), and writes the events to its own sinks (event
  server, brokers, files) from one thread: the driver is the only writer, as in one process. An
  outbox holds at most :data:`OUTBOX_EVENTS` events; when the driver falls that far behind, the
  oldest are dropped and counted (a warning names the node).
- When a node's actor dies or its node leaves the cluster, its cameras start again on the other
  nodes, least loaded first; ``on_move(camera, from, to)`` says so (the CLI prints ``camera X moved
  from node A to node B``). A moved camera connects afresh (``source.connected``) and numbers its
  events as a new run; the events its old node had not handed over yet are lost with it. A camera
  with no node left waits until one joins.
- Unchanged cameras keep running, and their numbering, across reloads (as in one process).
- The driver's ``/metrics`` counts the nodes' work as one process would (windows, latency,
  frames in and dropped, reconnects, from each drain), beside the per-camera rows.

Snapshots and clips are written on the node that runs the camera; the driver's event server serves
them from the same paths (:attr:`RayFleet.media_folders`), so that works where those folders are
shared at the same path on every node.
"""

from __future__ import annotations

import logging
import pickle
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import ray
from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

from ..errors import StreamfuseError, UserInputError
from ..runtime.ray_runtime import init_ray, shutdown_ray
from ..serve.metrics import Metrics
from .config import Camera
from .runner import Fleet, _CameraCollector, _key

log = logging.getLogger(__name__)

#: CPUs a node's fleet actor holds (it decodes its cameras' feeds)
NODE_CPUS = 1.0
#: events an outbox keeps for the driver; beyond that the oldest are dropped and counted
OUTBOX_EVENTS = 50_000
#: seconds start and reload wait for the nodes to start their cameras (models load meanwhile)
_START_WAIT = 120.0
#: seconds between checks of which nodes are alive (and placements of waiting cameras)
_NODES_EVERY = 1.0
#: a camera's health row before its node has reported it
_PENDING = {"running": False, "connected": False, "frames_in": 0, "dropped": {}, "reconnects": 0,
            "windows": 0, "decode_errors": 0, "events": 0, "last_frame_age": None, "error": None}


class _Outbox:
    """A node fleet's one sink: what its cameras said since the driver's last :meth:`take`."""

    name = "driver"

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._events: deque[dict[str, Any]] = deque()
        self._statuses: list[tuple[str, Any]] = []
        self._errors: list[tuple[str, BaseException]] = []
        self._latencies: list[float | None] = []  # one per window fused (None: it held no data)
        self._dropped = 0
        self._lock = threading.Lock()

    def emit(self, event: dict[str, Any]) -> None:
        with self._lock:
            if len(self._events) >= self.limit:
                self._events.popleft()
                self._dropped += 1
            self._events.append(event)

    def status(self, name: str, status: Any) -> None:
        with self._lock:
            self._statuses.append((name, status))

    def error(self, name: str, exc: BaseException) -> None:
        with self._lock:
            self._errors.append((name, _portable(exc)))

    def window(self, name: str, window: Any, fused: Any, latency: float | None) -> None:
        with self._lock:
            self._latencies.append(latency)

    def flush(self, timeout: float | None = None) -> None:
        pass

    def close(self) -> None:
        pass

    def take(self) -> dict[str, Any]:
        with self._lock:
            out = {"events": list(self._events), "statuses": self._statuses, "errors": self._errors,
                   "dropped": self._dropped, "latencies": self._latencies}
            self._events.clear()
            self._statuses, self._errors, self._latencies, self._dropped = [], [], [], 0
        return out


def _portable(exc: BaseException) -> BaseException:
    """``exc`` if it survives pickling (to reach the driver), else a RuntimeError with its text."""
    try:
        pickle.loads(pickle.dumps(exc))
        return exc
    except Exception:  # noqa: BLE001 - an exception class whose constructor pickle cannot replay
        return RuntimeError(f"{type(exc).__name__}: {exc}")


class NodeFleet:
    """One node's share of a fleet (a Ray actor pinned to the node): a local :class:`Fleet` whose
    sink is an outbox the driver drains."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.outbox = _Outbox(OUTBOX_EVENTS)
        self.fleet = Fleet([self.outbox], on_status=self.outbox.status, on_error=self.outbox.error,
                           on_window=self.outbox.window, **settings)
        self._applied = -1
        self._lock = threading.Lock()

    def node_id(self) -> str:
        return ray.get_runtime_context().get_node_id()

    def apply(self, version: int, cameras: list[Camera]) -> dict[str, list[str]] | None:
        """Run exactly ``cameras`` here (:meth:`Fleet.reload`); a list older than one already applied
        is ignored (calls may run concurrently), returning None."""
        with self._lock:
            if version <= self._applied:
                return None
            self._applied = version
            return self.fleet.reload(cameras)

    def drain(self) -> dict[str, Any]:
        """Events, statuses and errors since the last drain; the health of this node's cameras and the
        folders of their snapshots and clips."""
        out = self.outbox.take()
        out["health"] = self.fleet.health()
        out["media_folders"] = dict(self.fleet.media_folders)
        return out

    def stop(self) -> dict[str, Any]:
        """Stop every camera here; the last :meth:`drain`, with each camera's stats."""
        with self._lock:
            self._applied = 1 << 62  # nothing starts after this
            stats = self.fleet.stop()
        out = self.drain()
        out["stats"] = stats
        return out


@dataclass
class _Node:
    id: str
    label: str  # "ip/node id prefix", in status lines and health rows
    actor: Any
    cameras: dict[str, Camera] = field(default_factory=dict)
    version: int = 0
    drain: Any = None  # the drain call in flight
    applying: list = field(default_factory=list)  # apply calls in flight
    health: dict[str, dict[str, Any]] = field(default_factory=dict)


class RayFleet:
    """Runs cameras on the nodes of a Ray cluster until :meth:`stop` (see the module docstring).

    ``address`` is Ray's (``auto``, ``ray://head:10001``; None starts Ray here unless it is already
    initialised). ``on_status(name, status)`` and ``on_error(name, error)`` are called as by
    :class:`Fleet`, from the driver's polling thread; ``on_move(name, from_node, to_node)`` when a
    lost node's camera starts elsewhere. Other keyword arguments go to each node's :class:`Fleet`.
    """

    def __init__(self, sinks: Sequence[Any] = (), *, address: str | None = None, metrics: Metrics | None = None,
                 on_status: Callable[[str, Any], None] | None = None,
                 on_error: Callable[[str, BaseException], None] | None = None,
                 on_move: Callable[[str, str, str], None] | None = None,
                 poll: float = 0.2, **settings: Any) -> None:
        self.sinks = list(sinks)
        self.metrics = metrics if metrics is not None else Metrics()
        self.on_status, self.on_error, self.on_move = on_status, on_error, on_move
        self.poll = poll
        self.settings = settings
        try:
            self._owns_ray = init_ray(address)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise UserInputError(f"could not {'join the Ray cluster at ' + address if address else 'start Ray'}: "
                                 f"{first}; check --address (auto on a cluster node, ray://HEAD:10001 "
                                 "from outside)") from None
        self._actor_cls = ray.remote(num_cpus=NODE_CPUS, max_restarts=0, max_concurrency=4)(NodeFleet)
        self.nodes: dict[str, _Node] = {}
        self.cameras: dict[str, Camera] = {}  # every camera of the fleet, placed or waiting
        self.waiting: dict[str, Camera] = {}  # cameras no node could take yet
        self._lost_from: dict[str, str] = {}  # cameras of a lost node not yet running elsewhere: its label
        self.stats: dict[str, Any] = {}
        #: camera name -> the folders its node writes snapshots and clips to (the event server serves
        #: from them, so that works where they are shared at the same path)
        self.media_folders: dict[str, list[Path]] = {}
        self._sink_failures: dict[str, int] = {}
        self._counted: dict[str, dict[str, Any]] = {}  # camera -> its counters at the last drain
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._stopped = False
        self.metrics.registry.register(_CameraCollector(self))

    # -- control ------------------------------------------------------------------------------

    def start(self, cameras: Sequence[Camera]) -> None:
        """Place the cameras and wait until every node has started its share."""
        self.reload([*self.cameras.values(), *cameras])

    def reload(self, cameras: Sequence[Camera]) -> dict[str, list[str]]:
        """Apply a new camera list (as :meth:`Fleet.reload`); added cameras go to the least loaded
        nodes, nodes that joined since included. Returns the names ``added``, ``removed``, ``changed``."""
        new = {c.name: c for c in cameras}
        with self._lock:
            old = self.cameras
            removed = [n for n in old if n not in new]
            changed = [n for n in old if n in new and _differs(old[n], new[n])]
            added = [n for n in new if n not in old]
            self.cameras = new
            touched: set[str] = set()
            for name in removed + changed:
                self.waiting.pop(name, None)
                self._lost_from.pop(name, None)
                for node in self.nodes.values():
                    if name in node.cameras:
                        touched.add(node.id)
                        if name in removed:
                            del node.cameras[name]
                        else:
                            node.cameras[name] = new[name]  # restarted where it runs
            for name in changed:
                if not any(name in node.cameras for node in self.nodes.values()):
                    self.waiting[name] = new[name]
            for name in added:
                self.waiting[name] = new[name]
            touched |= self._place_waiting()
            refs = self._apply(touched)
            self._report_moves()  # cameras of a lost node that waited for one
        _wait_applied(refs)  # a camera that cannot start (a model that does not load) fails here, as in one process
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="streamfuse-ray-fleet", daemon=True)
            self._thread.start()
        return {"added": added, "removed": removed, "changed": changed}

    def stop(self) -> dict[str, Any]:
        """Stop every camera on every node, hand over their last events; stats per camera."""
        if self._stopped:
            return dict(self.stats)
        self._stopped = True
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(10 * self.poll + 30.0)
        with self._lock:
            nodes = list(self.nodes.values())
            lives = [c.config.live for c in self.cameras.values()]
        timeout = max((lv.stall_timeout + 2 * lv.connect_timeout for lv in lives), default=0.0) + 40.0
        for node in nodes:  # what was in flight when polling stopped
            if node.drain is not None:
                self._collect(node, node.drain, timeout=5.0)
        stops = [(node, node.actor.stop.remote()) for node in nodes]
        for node, ref in stops:
            out = self._collect(node, ref, timeout=timeout)
            if out is not None:
                self.stats.update(out.get("stats", {}))
        for node in nodes:
            ray.kill(node.actor)
        shutdown_ray(self._owns_ray)
        return dict(self.stats)

    def where(self) -> dict[str, str | None]:
        """Each camera's node (its label), None while it waits for one."""
        with self._lock:
            placed = {name: node.label for node in self.nodes.values() for name in node.cameras}
            return {name: placed.get(name) for name in self.cameras}

    def health(self) -> dict[str, dict[str, Any]]:
        """Per camera, the row of :meth:`Fleet.health` from the node that runs it, plus ``node``."""
        out: dict[str, dict[str, Any]] = {}
        with self._lock:
            for node in self.nodes.values():  # cameras stopped by a reload, still reported by their node
                for name, row in node.health.items():
                    if name not in self.cameras:
                        out[name] = {**row, "node": node.label}
            where = {name: node for node in self.nodes.values() for name in node.cameras}
            for name in self.cameras:
                node = where.get(name)
                row = node.health.get(name) if node is not None else None
                out[name] = {**(row or _PENDING), "node": node.label if node is not None else None}
        return out

    # -- placement ----------------------------------------------------------------------------

    def _alive(self) -> dict[str, str]:
        """Alive nodes that can hold a node fleet: node id -> label, in the cluster's order."""
        out = {}
        for n in ray.nodes():
            if n.get("Alive") and n.get("Resources", {}).get("CPU", 0) >= NODE_CPUS:
                out[n["NodeID"]] = f"{n.get('NodeManagerAddress', '?')}/{n['NodeID'][:8]}"
        return out

    def _place_waiting(self, exclude: set[str] = frozenset()) -> set[str]:
        """Put each waiting camera on the alive node with the fewest cameras; the nodes given one."""
        if not self.waiting:
            return set()
        alive = {nid: label for nid, label in self._alive().items() if nid not in exclude}
        touched: set[str] = set()
        for name, camera in list(self.waiting.items()):
            if not alive:
                break
            nid = min(alive, key=lambda i: len(self.nodes[i].cameras) if i in self.nodes else 0)
            if nid not in self.nodes:
                strategy = NodeAffinitySchedulingStrategy(nid, soft=False)
                actor = self._actor_cls.options(scheduling_strategy=strategy).remote(self.settings)
                self.nodes[nid] = _Node(nid, alive[nid], actor)
            self.nodes[nid].cameras[name] = camera
            del self.waiting[name]
            touched.add(nid)
        return touched

    def _apply(self, node_ids: set[str]) -> list[Any]:
        refs = []
        for nid in node_ids:
            node = self.nodes[nid]
            node.version += 1
            ref = node.actor.apply.remote(node.version, list(node.cameras.values()))
            node.applying.append(ref)
            refs.append(ref)
        return refs

    def _lose(self, nid: str, why: str) -> None:
        """Node ``nid`` (or its actor) is gone: start its cameras on the other nodes."""
        with self._lock:
            node = self.nodes.pop(nid, None)
            if node is None:
                return
            ray.kill(node.actor)  # an actor that only looked dead must not run its cameras twice
            if self._stopping.is_set():
                return
            log.info("node %s lost (%s); moving its %d cameras", node.label, why, len(node.cameras))
            moved = [name for name in node.cameras if name in self.cameras]
            for name in moved:
                self.waiting[name] = node.cameras[name]
                self._lost_from[name] = node.label
            self._apply(self._place_waiting(exclude={nid}))
            self._report_moves()
            for name in moved:
                if name in self.waiting:
                    log.warning("camera %s has no node to run on since node %s was lost; it starts when "
                                "one joins", name, node.label)

    def _report_moves(self) -> None:
        """``on_move`` for each camera of a lost node that runs elsewhere now."""
        placed = {name: node.label for node in self.nodes.values() for name in node.cameras}
        for name, was in list(self._lost_from.items()):
            if name in placed:
                del self._lost_from[name]
                if self.on_move is not None:
                    self.on_move(name, was, placed[name])
                else:
                    log.warning("camera %s moved from node %s to node %s", name, was, placed[name])

    # -- polling ------------------------------------------------------------------------------

    def _run(self) -> None:
        checked = 0.0
        while not self._stopping.is_set():
            began = time.monotonic()
            try:
                if began - checked >= _NODES_EVERY:
                    checked = began
                    self._check_nodes()
                self._poll_once()
            except Exception:  # noqa: BLE001 - polling must go on for the cameras that work
                log.exception("polling the fleet's nodes failed; retrying")
            self._stopping.wait(max(0.0, self.poll - (time.monotonic() - began)))

    def _check_nodes(self) -> None:
        alive = self._alive()
        with self._lock:
            gone = [nid for nid in self.nodes if nid not in alive]
        for nid in gone:
            self._lose(nid, "left the cluster")
        with self._lock:
            if self.waiting:
                self._apply(self._place_waiting())
                self._report_moves()

    def _poll_once(self) -> None:
        with self._lock:
            nodes = list(self.nodes.values())
            for node in nodes:
                if node.drain is None:
                    node.drain = node.actor.drain.remote()
        refs = [node.drain for node in nodes]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=self.poll)
        for node in nodes:
            ready = node.drain is not None and ray.wait([node.drain], timeout=0)[0]
            if ready:
                self._collect(node, node.drain, timeout=0)
            self._check_applying(node)

    def _check_applying(self, node: _Node) -> None:
        while node.applying:
            ready, _ = ray.wait(node.applying, timeout=0)
            if not ready:
                return
            for ref in ready:
                node.applying.remove(ref)
                try:
                    ray.get(ref)
                except ray.exceptions.RayActorError:
                    pass  # the drain says the same; the node is lost there
                except ray.exceptions.RayTaskError as exc:
                    log.warning("node %s could not start its cameras: %s", node.label, getattr(exc, "cause", exc))

    def _collect(self, node: _Node, ref: Any, timeout: float) -> dict[str, Any] | None:
        """The result of a drain or stop call of ``node``, delivered; None when the node is lost."""
        if ref is node.drain:
            node.drain = None
        try:
            out = ray.get(ref, timeout=timeout)
        except ray.exceptions.RayActorError as exc:
            self._lose(node.id, type(exc).__name__)
            return None
        except ray.exceptions.GetTimeoutError:
            log.warning("node %s did not answer within %.0f s", node.label, timeout)
            return None
        self._deliver(node, out)
        return out

    def _deliver(self, node: _Node, out: dict[str, Any]) -> None:
        for event in out["events"]:
            for sink in self.sinks:
                try:
                    sink.emit(event)
                except Exception as exc:  # noqa: BLE001 - one failing sink must not stop the others
                    name = getattr(sink, "name", type(sink).__name__)
                    n = self._sink_failures[name] = self._sink_failures.get(name, 0) + 1
                    self.metrics.count_sink_failure(name)
                    if n & (n - 1) == 0:  # the 1st, 2nd, 4th... failure: bounded, and never silent
                        log.warning("sink %s failed %d time%s (last: %s: %s)", name, n, "" if n == 1 else "s",
                                    type(exc).__name__, exc)
        if out["dropped"]:
            log.warning("node %s dropped %d events the driver had not collected in time (its outbox holds %d)",
                        node.label, out["dropped"], OUTBOX_EVENTS)
        for name, status in out["statuses"]:
            if self.on_status is not None:
                self.on_status(name, status)
        for name, exc in out["errors"]:
            if self.on_error is not None:
                self.on_error(name, exc)
            else:
                log.warning("camera %s stopped: %s", name, exc)
        self._count(out)
        with self._lock:
            node.health = out["health"]
            self.media_folders.update(out["media_folders"])  # in place: the event server holds this dict

    def _count(self, out: dict[str, Any]) -> None:
        """The nodes' work in the driver's own ``/metrics`` (windows, latency, frames, drops,
        reconnects), as one process would count it: windows from the drained latencies, the rest
        from each camera's counters since the last drain (a camera that moved starts again from 0)."""
        m = self.metrics
        for latency in out["latencies"]:
            m.count_window()
            if latency is not None:
                m.observe_latency(latency)
        for name, row in out["health"].items():
            seen = self._counted.get(name, {"frames_in": 0, "reconnects": 0, "dropped": {}})
            for key, count in (("frames_in", m.count_frames), ("reconnects", m.count_reconnect)):
                new = row[key] - seen[key] if row[key] >= seen[key] else row[key]
                if new:
                    count(new)
            for reason, n in row["dropped"].items():
                before = seen["dropped"].get(reason, 0)
                new = n - before if n >= before else n
                if new:
                    m.count_dropped_frames(new, reason=reason)
            self._counted[name] = {"frames_in": row["frames_in"], "reconnects": row["reconnects"],
                                   "dropped": dict(row["dropped"])}


def _differs(a: Camera, b: Camera) -> bool:
    return _key(a) != _key(b)


def _wait_applied(refs: list[Any]) -> None:
    """Wait for apply calls (at most :data:`_START_WAIT` seconds: a node whose actor cannot be placed
    is reported and left to the poller); a camera's error is raised as one line; a node lost meanwhile
    is the poller's to handle."""
    ready, late = ray.wait(refs, num_returns=len(refs), timeout=_START_WAIT) if refs else ([], [])
    if late:
        log.warning("%d node(s) have not started their cameras after %.0f s (no CPU free there?); "
                    "their cameras start when they do", len(late), _START_WAIT)
    for ref in ready:
        try:
            ray.get(ref)
        except ray.exceptions.RayActorError:
            pass
        except ray.exceptions.RayTaskError as exc:
            cause = getattr(exc, "cause", None)
            raise (cause if isinstance(cause, StreamfuseError) else exc) from None


__all__ = ["RayFleet", "NodeFleet", "NODE_CPUS", "OUTBOX_EVENTS"]
