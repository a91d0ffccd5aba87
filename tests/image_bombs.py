"""Decompression bombs made for tests: solid PNGs that are tiny on disk and huge once decoded.

Written row by row through one zlib stream, so making a 9,950² RGBA bomb (396 KiB, 396 MB
decoded) never holds its pixels in memory.
"""

from __future__ import annotations

import functools
import struct
import zlib


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


@functools.cache
def solid_png(width: int, height: int) -> bytes:
    """An RGBA PNG of one colour, ``width`` × ``height`` pixels (8 bits a band, no filter)."""
    row = b"\x00" + b"\x10\x20\x30\xff" * width
    stream = zlib.compressobj(9)
    idat = b"".join([stream.compress(row) for _ in range(height)] + [stream.flush()])
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", idat) + _chunk(b"IEND", b"")


def bomb() -> bytes:
    """The bomb of issue 18: 9,950 × 9,950 RGBA, 99 megapixels."""
    return solid_png(9_950, 9_950)
