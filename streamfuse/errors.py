"""The exceptions streamfuse raises.

One root, :class:`StreamfuseError`; each subclass also inherits the matching builtin so callers
can catch either (as PyAV's ``InvalidDataError(FFmpegError, ValueError)`` does). Messages are one
line and say what to do next.
"""

from __future__ import annotations


class StreamfuseError(Exception):
    """Root of every error streamfuse raises on purpose."""

    #: exit code the CLI uses for this error: 2 = the user's input or usage, 1 = the work failed
    exit_code = 1


class UserInputError(StreamfuseError):
    """Something the user gave us is wrong (exit code 2)."""

    exit_code = 2


class ConfigError(UserInputError, ValueError):
    """An unknown configuration key or a value out of range."""


class SourceNotFoundError(UserInputError, FileNotFoundError):
    """An input path, folder or glob that matches nothing."""


class UnsupportedSourceError(UserInputError, ValueError):
    """An input that is not media, or a URL with a scheme we do not open."""


class SourceUnreachableError(UserInputError, ConnectionError):
    """A URL that could not be opened (host down, refused, timed out)."""


class MediaDecodeError(StreamfuseError, ValueError):
    """A stream that could not be decoded at all (exit code 2: the input is damaged beyond use)."""

    exit_code = 2


class ModelLoadError(StreamfuseError, RuntimeError):
    """A model that is not available locally or failed to load; the message names it and says how
    to make it available (exit code 2: the configuration points at something that is not there)."""

    exit_code = 2


class StageError(StreamfuseError, RuntimeError):
    """A pipeline stage failed; carries the stage name and the worker's traceback text."""

    def __init__(self, stage: str, message: str, traceback_text: str = "") -> None:
        super().__init__(f"stage {stage!r} failed: {message}")
        self.stage = stage
        self.traceback_text = traceback_text
