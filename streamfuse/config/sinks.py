"""Configuration of the event sinks given with ``--sink URI`` (broker and webhook sinks).

Keys live under ``sinks.`` (``--set sinks.connect_at_start=false``). Config keys are public API.
"""

from __future__ import annotations

from dataclasses import dataclass

from .base import Section


@dataclass(frozen=True)
class SinksConfig(Section):
    """How broker and webhook sinks start and where they buffer.

    ``connect_at_start``: true makes a broker that is down, or refuses the credentials, an error at
    the start (exit 2); false starts anyway and buffers events (bounded, on disk) until it comes up.
    ``buffer_dir``: the folder holding one buffer folder per destination (unset: ``$STREAMFUSE_BUFFER_DIR``,
    else ``$XDG_STATE_HOME/streamfuse/buffers``, else ``~/.local/state/streamfuse/buffers``).
    """

    connect_at_start: bool = True
    buffer_dir: str | None = None
