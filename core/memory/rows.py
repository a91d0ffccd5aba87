"""Where an index keeps its exact (normalised float32) rows: in memory, or in a file read back by row.

A small index keeps its rows in memory and scans them directly.  A large one
keeps only its int8 copy resident (core/memory/index.py) and reads the few rows
it rescores from an unlinked temporary file with ``pread``: they come from the
kernel's page cache, which the kernel can reclaim, not from this process's
memory, and nothing is left on disk when the process dies (the file has no name).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np


class MemoryRows:
    """Rows in one contiguous in-memory float32 matrix."""

    def __init__(self, dims: int, capacity: int) -> None:
        self.dims = dims
        self.array = np.empty((capacity, dims), dtype=np.float32)

    @property
    def resident_bytes(self) -> int:
        """Bytes this store holds in the process's memory."""
        return self.array.nbytes

    def reserve(self, capacity: int, used: int) -> None:
        """Room for ``capacity`` rows, keeping the first ``used``."""
        if capacity > len(self.array):
            bigger = np.empty((capacity, self.dims), dtype=np.float32)
            bigger[:used] = self.array[:used]
            self.array = bigger

    def write(self, start: int, block: np.ndarray) -> None:
        """Store ``block`` (normalised rows) at rows ``start`` onwards."""
        self.array[start : start + len(block)] = block

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The rows at ``positions``, as a new array."""
        return self.array[positions]


class FileRows:
    """Rows in an unlinked temporary file; nothing of them stays in this process's memory."""

    def __init__(self, dims: int, directory: str | Path | None = None) -> None:
        self.dims = dims
        self._row_bytes = dims * 4
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
        # On Linux an O_TMPFILE: it never has a name, so a killed process leaves nothing behind.
        self._file = tempfile.TemporaryFile(dir=directory)
        self._fd = self._file.fileno()

    resident_bytes = 0

    def reserve(self, capacity: int, used: int) -> None:
        """Nothing to do: the file grows as rows are written."""

    def write(self, start: int, block: np.ndarray) -> None:
        """Store ``block`` (normalised rows) at rows ``start`` onwards."""
        data = memoryview(np.ascontiguousarray(block, dtype="<f4")).cast("B")
        offset = start * self._row_bytes
        while data:
            written = os.pwrite(self._fd, data, offset)
            data, offset = data[written:], offset + written

    def read(self, positions: np.ndarray) -> np.ndarray:
        """The rows at ``positions``, read from the file (the page cache, usually)."""
        out = np.empty((len(positions), self.dims), dtype=np.float32)
        size = self._row_bytes
        for i, position in enumerate(positions.tolist()):
            if os.preadv(self._fd, [out[i]], position * size) != size:
                raise OSError(f"the index's row file ends before row {position}")
        return out

    def close(self) -> None:
        """Release the file (its space goes back at once: it has no name)."""
        self._file.close()
