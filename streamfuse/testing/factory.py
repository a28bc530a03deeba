"""Generate each fixture clip once per test session."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from .truth import Truth


class ClipFactory:
    """Writes each distinct clip once into ``directory`` and hands back its :class:`Truth` after that.

    ``clips(make_vfr_clip, ".mp4", segments=...)`` calls the generator with a path in ``directory``
    the first time and returns the cached truth for the same arguments later. A pytest session
    fixture is one line: ``return ClipFactory(tmp_path_factory.mktemp("clips"))``. Tests must not
    modify the files they get.
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self._made: dict[tuple[str, str, str], Truth] = {}

    def __call__(self, maker: Callable[..., Truth], suffix: str = ".mkv", **kwargs) -> Truth:
        args = repr(sorted(kwargs.items()))
        key = (maker.__name__, suffix, args)
        if key not in self._made:
            digest = hashlib.sha1(args.encode()).hexdigest()[:8]
            name = f"{maker.__name__.removeprefix('make_')}-{digest}{suffix}"
            self._made[key] = maker(self.directory / name, **kwargs)
        return self._made[key]
