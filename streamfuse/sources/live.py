"""Open live feeds and keep them open.

:func:`live_source` turns what the user typed into a live :class:`~streamfuse.sources.resolve.Source`
(``rtsp://``, ``rtmp://``, ``srt://``, ``udp://``, ``tcp://``, ``http(s)://`` incl. HLS ``.m3u8``,
or a capture device ``/dev/videoN``, opened with FFmpeg's ``v4l2`` format; ``srt://`` is read
through a local relay, :mod:`.srt_relay`); :func:`input_options` picks low-latency FFmpeg options
for it. :class:`streamfuse.decode.live.LiveReader` reads it and keeps it open across drops and
stalls.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from urllib.parse import urlsplit

from ..config.live import LiveConfig
from ..errors import SourceNotFoundError, UnsupportedSourceError
from . import srt_relay
from .resolve import Source, is_url, resolve_inputs, source_id_for

_DEVICE = re.compile(r"^/dev/video\d+$")


# ---------------------------------------------------------------- what to open, and how


def live_source(text: str) -> Source:
    """A live source from a URL or a capture device path; raises a one-line user error otherwise."""
    if _DEVICE.match(text):
        if not Path(text).exists():
            raise SourceNotFoundError(f"{text}: no such capture device; list them with 'ls /dev/video*'")
        return Source(uri=text, id=source_id_for(text), name=Path(text).name, live=True)
    if not is_url(text):
        raise UnsupportedSourceError(
            f"{text}: not a live feed; give rtsp://, rtmp://, srt://, udp://, tcp://, http(s):// (HLS .m3u8) "
            "or a capture device /dev/videoN (use 'streamfuse analyze' for files)")
    source = resolve_inputs([text])[0]
    if "://" not in source.uri or urlsplit(source.uri).scheme.lower() == "file":
        raise UnsupportedSourceError(f"{source.display}: a file is not a live feed; use 'streamfuse analyze'")
    if srt_relay.is_srt(source):
        srt_relay.check(source)
    return dataclasses.replace(source, live=True)


def _micros(seconds: float) -> str:
    return str(int(seconds * 1_000_000))


def input_options(source: Source, live: LiveConfig) -> tuple[dict[str, str], str | None]:
    """FFmpeg input options and input format for reading ``source`` with low latency.

    ``live.options`` override these; ``live.format`` forces the format (``/dev/video*``: v4l2)."""
    device = bool(_DEVICE.match(source.uri))
    fmt = live.format or ("v4l2" if device else None)
    opts: dict[str, str] = {}
    if live.low_latency:
        opts.update({"fflags": "nobuffer", "flags": "low_delay"})
    opts["probesize"] = str(live.probe_bytes)
    opts["analyzeduration"] = _micros(live.probe_seconds)
    if not device:
        parts = urlsplit(source.uri)
        scheme = parts.scheme.lower()
        if scheme in ("rtsp", "rtsps"):
            opts["rtsp_transport"] = live.rtsp_transport
            opts["timeout"] = _micros(live.stall_timeout)  # socket I/O timeout
        elif scheme in ("udp", "rtp", "srt"):  # srt: read from its local relay over UDP (see .srt_relay)
            opts["timeout"] = _micros(live.stall_timeout)
            opts["overrun_nonfatal"] = "1"  # a full receive buffer loses packets, not the feed
            if scheme == "srt":
                opts["localaddr"] = "127.0.0.1"  # the relay's port takes datagrams from this machine only
        elif scheme in ("rtmp", "rtmps"):
            opts["rtmp_live"] = "live"
        elif scheme in ("http", "https") and parts.path.lower().endswith(".m3u8"):
            opts["live_start_index"] = "-1"  # HLS: start at the newest segment
    opts.update({str(k): str(v) for k, v in live.options.items()})
    return opts, fmt
