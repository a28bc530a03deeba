"""Cut the audio of consecutive, overlapping windows into fixed blocks, each sample once."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...decode.payloads import AudioClip


class Blocks(NamedTuple):
    """Blocks ``first, first + 1, ...`` of ``size`` samples on the absolute grid ``[k * size, (k + 1) * size)``.

    ``samples`` is ``n x size`` float32 (zeros where audio is missing); ``real`` counts the real
    samples of each block.
    """

    first: int
    samples: np.ndarray
    real: np.ndarray

    def __len__(self) -> int:
        return len(self.real)


class BlockFeed:
    """Takes the samples a window adds to what earlier windows gave and returns the complete blocks.

    Windows overlap, so each clip repeats samples already taken; only the part from the feed's
    position on is used. A clip that starts past the position leaves a gap, filled as missing.
    The samples of an incomplete block wait for the next clip, or for :meth:`flush` at the end.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.reset(0)

    def reset(self, at: int) -> None:
        """Start a new stream whose first sample wanted is ``at`` (earlier ones in its block are missing)."""
        self._start = (at // self.size) * self.size  # absolute index of _pending[0]
        self._pending = np.zeros(0, dtype=np.float32)
        self._pending_real = np.zeros(0, dtype=bool)

    @property
    def position(self) -> int:
        """Absolute index of the next sample wanted."""
        return self._start + len(self._pending)

    def push(self, clip: AudioClip) -> Blocks:
        pos = self.position
        parts, reals = [self._pending], [self._pending_real]
        if clip.start > pos:
            parts.append(np.zeros(clip.start - pos, dtype=np.float32))
            reals.append(np.zeros(clip.start - pos, dtype=bool))
        skip = max(pos - clip.start, 0)
        if skip < len(clip.samples):
            parts.append(clip.samples[skip:])
            reals.append(clip.valid_mask()[skip:])
        data, real = np.concatenate(parts), np.concatenate(reals)
        n = len(data) // self.size
        cut = n * self.size
        out = Blocks(self._start // self.size, data[:cut].reshape(n, self.size),
                     real[:cut].reshape(n, self.size).sum(axis=1))
        self._start += cut
        self._pending, self._pending_real = data[cut:], real[cut:]
        return out

    def flush(self) -> Blocks:
        """The incomplete last block, zero-padded (the padding counts as missing)."""
        k = self._start // self.size
        if not len(self._pending):
            return Blocks(k, np.zeros((0, self.size), dtype=np.float32), np.zeros(0, dtype=np.int64))
        block = np.zeros(self.size, dtype=np.float32)
        block[:len(self._pending)] = self._pending
        out = Blocks(k, block[None, :], np.array([int(self._pending_real.sum())]))
        self.reset(self._start + self.size)
        return out
