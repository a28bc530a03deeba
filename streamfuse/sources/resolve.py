"""Turn what the user typed (files, folders, globs, URLs) into :class:`Source` values.

Inputs are opened only through the schemes a user asked for; nothing is ever passed to a shell.
"""

from __future__ import annotations

import dataclasses
import glob
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import SourceNotFoundError, UnsupportedSourceError
from ..events.cloudevents import redact

#: extensions picked up when a folder is given
MEDIA_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mkv", ".webm", ".mov", ".avi", ".mpg", ".mpeg", ".ts", ".m2ts", ".mts", ".flv",
    ".wmv", ".3gp", ".ogv", ".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma",
})
#: URL schemes we open for files and archives (http(s) streams a file)
FILE_SCHEMES = frozenset({"http", "https", "file"})
#: URL schemes of live feeds
LIVE_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "rtmps", "srt", "udp", "tcp", "rtp"})
_GLOB_CHARS = re.compile(r"[*?\[]")


@dataclass(frozen=True)
class Source:
    """One input: ``uri`` is what FFmpeg opens; ``id`` is stable and safe to publish; ``name`` names
    its result folder; ``subtitles`` is a sidecar subtitle file, if any."""

    uri: str
    id: str
    name: str
    live: bool = False
    subtitles: str | None = None
    #: an FFmpeg input format to force (e.g. "v4l2" for a capture device, "lavfi" for a generated
    #: test source in benchmarks); None lets FFmpeg probe
    format: str | None = None

    @property
    def display(self) -> str:
        """The input as it may be logged or written into events (credentials redacted)."""
        return redact(self.uri)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._-")[:48] or "source"


def source_id_for(uri: str) -> str:
    """A stable id: a readable slug plus 8 hex digits of the (redacted) location's hash."""
    display = redact(uri)
    digest = hashlib.sha1(display.encode("utf-8")).hexdigest()[:8]
    base = os.path.basename(urlsplit(display).path.rstrip("/")) if "://" in display else os.path.basename(display)
    return f"{_slug(base)}-{digest}"


def sidecar_subtitles(path: Path) -> str | None:
    """``clip.srt`` / ``clip.vtt`` (or ``clip.<lang>.srt``) beside ``clip.mp4``, if present."""
    for ext in (".srt", ".vtt", ".ass", ".ssa"):
        candidate = path.with_suffix(ext)
        if candidate.is_file():
            return str(candidate)
    matches = sorted(path.parent.glob(glob.escape(path.stem) + ".*.srt")) + sorted(
        path.parent.glob(glob.escape(path.stem) + ".*.vtt"))
    return str(matches[0]) if matches else None


def _url_source(text: str) -> Source:
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme == "file":
        return _file_source(Path(parts.path))
    if scheme not in FILE_SCHEMES | LIVE_SCHEMES:
        allowed = ", ".join(sorted(FILE_SCHEMES | LIVE_SCHEMES))
        raise UnsupportedSourceError(f"{redact(text)}: scheme {scheme!r} is not supported; use a file path or one of {allowed}")
    if not parts.netloc:
        raise UnsupportedSourceError(f"{redact(text)}: URL has no host")
    name = _slug(os.path.basename(parts.path.rstrip("/")) or parts.hostname or "stream")
    return Source(uri=text, id=source_id_for(text), name=name, live=scheme in LIVE_SCHEMES)


def _file_source(path: Path, subtitles: str | None = None) -> Source:
    resolved = path.expanduser()
    if not resolved.exists():
        raise SourceNotFoundError(f"{path}: no such file or folder; check the path")
    if not resolved.is_file():
        raise UnsupportedSourceError(f"{path}: not a regular file")
    if not os.access(resolved, os.R_OK):
        raise UnsupportedSourceError(f"{path}: not readable (permission denied)")
    absolute = str(resolved.resolve())
    return Source(uri=absolute, id=source_id_for(absolute), name=resolved.name,
                  subtitles=subtitles or sidecar_subtitles(resolved))


def _numbered(name: str, n: int) -> str:
    """``name-n``, shortened (whole characters) to stay within the 255 bytes a file name may have."""
    suffix = f"-{n}"
    return name.encode("utf-8")[:255 - len(suffix)].decode("utf-8", "ignore") + suffix


def is_url(text: str) -> bool:
    return bool(re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", text))


def resolve_inputs(inputs: list[str], subtitles: str | None = None) -> list[Source]:
    """Expand files, folders (recursively, media extensions only), globs and URLs, in the given
    order, without duplicates. Result names are made unique (``a.mp4``, ``a.mp4-2``)."""
    if subtitles is not None and not Path(subtitles).is_file():
        raise SourceNotFoundError(f"--subtitles {subtitles}: no such file")
    out: list[Source] = []
    for text in inputs:
        if is_url(text):
            out.append(_url_source(text))
        elif Path(text).is_dir():
            found = sorted(p for p in Path(text).rglob("*") if p.is_file() and p.suffix.lower() in MEDIA_EXTENSIONS)
            if not found:
                raise SourceNotFoundError(f"{text}: folder holds no media files ({', '.join(sorted(MEDIA_EXTENSIONS)[:6])}, ...)")
            out.extend(_file_source(p) for p in found)
        elif _GLOB_CHARS.search(text) and not Path(text).exists():
            found = sorted(Path(p) for p in glob.glob(text, recursive=True) if Path(p).is_file())
            if not found:
                raise SourceNotFoundError(f"{text}: pattern matches no files")
            out.extend(_file_source(p) for p in found)
        else:
            out.append(_file_source(Path(text), subtitles))
    unique: list[Source] = []
    seen_uris: set[str] = set()
    names: dict[str, int] = {}
    for src in out:
        if src.uri in seen_uris:
            continue
        seen_uris.add(src.uri)
        n = names.get(src.name, 0) + 1
        names[src.name] = n
        if n > 1:
            src = dataclasses.replace(src, name=_numbered(src.name, n))
        unique.append(src)
    return unique
