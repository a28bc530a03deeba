"""Open a sink from a URI.

==========================================  =============================================
``file:///path/events.jsonl`` (or a path)   rotating JSON-lines file
``mqtt://[user:pass@]host[:1883]/prefix``   MQTT, topics ``prefix/events``, ``prefix/<source>/<type>``
``redis://[:pass@]host[:6379]/0?stream=S``  Redis Streams (``rediss://`` for TLS); ``maxlen=N``
``nats://[user:pass@]host[:4222]/prefix``   NATS JetStream, subjects ``prefix.<type>``; ``stream=NAME``
``http(s)://host/path``                     webhook, one POST per event
==========================================  =============================================

Broker and webhook sinks deliver through a durable bounded buffer (see
:mod:`streamfuse.sinks.durable`); options common to them: ``buffer_dir`` (this sink's folder), ``buffer_root`` (the folder
that holds one buffer folder per destination), ``max_buffer_events``,
``max_buffer_bytes``, ``fsync``, ``connect_timeout``, ``connect_at_start`` (default True: an
unreachable broker or refused credentials raise at once; False: buffer until it comes up; on the
command line ``--set sinks.connect_at_start=false`` and ``sinks.buffer_dir``, see
:class:`~streamfuse.config.sinks.SinksConfig`),
``batch_size``, ``publish_timeout``, ``backoff_initial``, ``backoff_max``, ``close_timeout``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import ConfigError, SourceUnreachableError
from ..events.cloudevents import redact
from ._delivery import BufferedSink, default_buffer_dir
from .base import EventSink
from .durable import DurableLog

SINK_SCHEMES = ("file", "mqtt", "redis", "rediss", "nats", "http", "https")
_DEFAULT_PORTS = {"mqtt": 1883, "redis": 6379, "rediss": 6379, "nats": 4222}
_BUFFER_OPTS = ("buffer_dir", "buffer_root", "max_buffer_events", "max_buffer_bytes", "fsync")
_DELIVERY_OPTS = ("batch_size", "publish_timeout", "backoff_initial", "backoff_max", "close_timeout")


@dataclass(frozen=True)
class BrokerURI:
    """A broker URI taken apart; ``display`` is the URI with credentials redacted."""

    scheme: str
    host: str
    port: int
    path: str
    username: str | None
    password: str | None
    query: dict[str, str] = field(default_factory=dict)
    display: str = ""


def parse_broker_uri(uri: str, allowed: tuple[str, ...] = ("mqtt", "redis", "rediss", "nats")) -> BrokerURI:
    """Split ``uri``; raise :class:`ConfigError` (one line, credentials redacted) if it is not one of
    the ``allowed`` schemes or has no usable host/port."""
    display = redact(uri)
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise ConfigError(f"bad broker URI {display}: the port must be a number 1-65535") from None
    scheme = parts.scheme.lower()
    if scheme not in allowed:
        raise ConfigError(f"unsupported URI scheme {scheme + '://' if scheme else display!r}; "
                          f"use one of: {', '.join(s + '://' for s in allowed)}")
    if not parts.hostname:
        raise ConfigError(f"bad broker URI {display}: no host; write it as {scheme}://HOST:PORT/...")
    query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
    return BrokerURI(scheme=scheme, host=parts.hostname, port=port or _DEFAULT_PORTS.get(scheme, 0),
                     path=unquote(parts.path), username=unquote(parts.username) if parts.username else None,
                     password=unquote(parts.password) if parts.password is not None else None,
                     query=query, display=display)


def is_buffered(uri: str) -> bool:
    """Whether ``uri`` opens a sink that delivers through a durable buffer (brokers and webhooks,
    which take the buffer and delivery options; files do not)."""
    return "://" in uri and uri.split("://", 1)[0].lower() in SINK_SCHEMES and not uri.lower().startswith("file:")


def open_configured_sink(uri: str, sinks: Any) -> EventSink:
    """``open_sink(uri)`` with the ``sinks.*`` settings (``connect_at_start``, ``buffer_dir``) given
    to the sinks that take them (brokers and webhooks)."""
    if not is_buffered(uri):
        return open_sink(uri)
    opts: dict[str, Any] = {"connect_at_start": sinks.connect_at_start}
    if sinks.buffer_dir:
        opts["buffer_root"] = sinks.buffer_dir
    return open_sink(uri, **opts)


def open_sink(uri: str, **opts: Any) -> EventSink:
    """A sink for ``uri`` (see the module docstring). Raises :class:`ConfigError` for an unknown
    scheme or bad URI and :class:`SourceUnreachableError` for a broker that is down or refuses the
    credentials (unless ``connect_at_start=False``)."""
    if "://" not in uri:
        if not uri or uri.startswith("-"):
            raise ConfigError(f"bad sink {uri!r}: give a URI ({', '.join(s + '://' for s in SINK_SCHEMES)})")
        from .files import FileSink
        return FileSink(Path(uri), **opts)
    scheme = uri.split("://", 1)[0].lower()
    if scheme not in SINK_SCHEMES:
        raise ConfigError(f"unsupported sink scheme {scheme}:// in {redact(uri)}; "
                          f"use one of: {', '.join(s + '://' for s in SINK_SCHEMES)}")
    if scheme == "file":
        from .files import FileSink
        parts = urlsplit(uri)
        if parts.netloc not in ("", "localhost"):
            raise ConfigError(f"bad file URI {uri}: write file:///absolute/path.jsonl")
        return FileSink(Path(unquote(parts.path)), **opts)
    if scheme in ("http", "https"):
        from .webhook import WebhookTransport
        display = redact(uri)
        if not urlsplit(uri).hostname:
            raise ConfigError(f"bad webhook URL {display}: no host")
        transport_opts = _take(opts, ("headers", "max_attempts"))
        return _buffered(scheme, display, WebhookTransport(uri, display=display, **transport_opts), opts)
    b = parse_broker_uri(uri)
    if scheme == "mqtt":
        from .mqtt import MqttTransport
        t_opts = {"client_id": b.query.get("client_id"), **_take(opts, ("client_id", "keepalive"))}
        transport: Any = MqttTransport(b.host, b.port, b.path.strip("/") or "streamfuse", username=b.username,
                                       password=b.password, display=b.display, **t_opts)
    elif scheme in ("redis", "rediss"):
        from .redis_streams import DEFAULT_STREAM, RedisStreamTransport
        connection = redis_connection(b)
        t_opts = {"stream": b.query.get("stream", DEFAULT_STREAM),
                  "maxlen": _int(b, "maxlen", 100_000), **_take(opts, ("stream", "maxlen"))}
        transport = RedisStreamTransport(connection, display=b.display, **t_opts)
    else:
        from .nats_js import DEFAULT_PREFIX, NatsJetStreamTransport
        prefix = b.path.strip("/").replace("/", ".") or DEFAULT_PREFIX
        user, password, token = nats_auth(b)
        t_opts = {"stream": b.query.get("stream"), **_take(opts, ("stream", "max_msgs", "duplicate_window"))}
        transport = NatsJetStreamTransport(f"nats://{b.host}:{b.port}", prefix=prefix, user=user,
                                           password=password, token=token, display=b.display, **t_opts)
    return _buffered(scheme, b.display, transport, opts)


def redis_connection(b: BrokerURI) -> dict[str, Any]:
    """redis-py connection arguments from a parsed ``redis://`` URI."""
    db_text = b.query.get("db") or b.path.strip("/") or "0"
    if not db_text.isdigit():
        raise ConfigError(f"bad Redis URI {b.display}: the path is the database number (redis://HOST:PORT/0)")
    out: dict[str, Any] = {"host": b.host, "port": b.port, "db": int(db_text)}
    if b.password:
        out["password"] = b.password
    if b.username:
        out["username"] = b.username
    if b.scheme == "rediss":
        out["ssl"] = True
    return out


def nats_auth(b: BrokerURI) -> tuple[str | None, str | None, str | None]:
    """(user, password, token): ``nats://user:pass@host`` or ``nats://token@host``."""
    if b.username and b.password is None:
        return None, None, b.username
    return b.username, b.password, None


def _take(opts: dict[str, Any], names: tuple[str, ...]) -> dict[str, Any]:
    return {n: opts.pop(n) for n in names if n in opts}


def _int(b: BrokerURI, key: str, default: int) -> int:
    value = b.query.get(key)
    if value is None:
        return default
    if not value.isdigit() or int(value) < 1:
        raise ConfigError(f"bad {key}={value!r} in {b.display}: expected a positive integer")
    return int(value)


def _buffered(scheme: str, display: str, transport: Any, opts: dict[str, Any]) -> BufferedSink:
    buffer_opts = _take(opts, _BUFFER_OPTS)
    delivery_opts = _take(opts, _DELIVERY_OPTS)
    connect_timeout = float(opts.pop("connect_timeout", 5.0))
    connect_at_start = bool(opts.pop("connect_at_start", True))
    name = str(opts.pop("name", display))
    if opts:
        raise ConfigError(f"unknown option(s) for {scheme} sink: {', '.join(sorted(opts))}")
    directory = buffer_opts.pop("buffer_dir", None) or default_buffer_dir(scheme, display,
                                                                          buffer_opts.pop("buffer_root", None))
    buffer = DurableLog(directory, max_events=int(buffer_opts.pop("max_buffer_events", 100_000)),
                        max_bytes=int(buffer_opts.pop("max_buffer_bytes", 64 << 20)),
                        fsync=buffer_opts.pop("fsync", "interval"), retain_acked=False)
    if connect_at_start:
        try:
            transport.connect(connect_timeout)
        except Exception:
            reason = getattr(transport, "refused", None) or "no answer"
            auth = getattr(transport, "auth_failed", False)
            try:
                transport.close(1.0)
            finally:
                buffer.close()
            if auth:
                raise SourceUnreachableError(
                    f"{display} refused the credentials ({reason}); check the user and password in the URI"
                ) from None
            raise SourceUnreachableError(
                f"cannot reach {display} ({_one_line(reason)}); start the broker or fix HOST:PORT, or "
                "buffer events until it is up with --set sinks.connect_at_start=false") from None
    return BufferedSink(name, transport, buffer, **delivery_opts)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())[:200]
