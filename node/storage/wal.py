"""A SQLite write-ahead log checked before SQLite opens it.

SQLite reads a write-ahead log from its start up to the first frame that does not check out and ignores
the rest without an error: one damaged frame drops every transaction after it. So the node checks its
stores' logs first (`check`) and can refuse to start instead of starting with less than it had.

The format (https://www.sqlite.org/fileformat2.html#walformat): a 32-byte header of big-endian 32-bit
words: the magic (0x377f0682: checksums over little-endian words; 0x377f0683: big-endian), the format
version (3007000), the page size, the checkpoint sequence, two salts, and two checksum words over the
first 24 bytes. Then frames, each a 24-byte header (page number, the database size in pages after a
commit or 0, the two salts, two checksum words) and a page. A frame's checksum runs over the first 8
bytes of its header and its page, starting from the previous frame's (the log header's for the first).
When the log restarts after a checkpoint the salts change, and the old frames beyond the new ones stay
in the file until they are overwritten.

Damage is a header that is cut short, has another magic, version or page size, or fails its checksum;
a frame with the current salts whose checksum (or page number 0) is wrong; and a frame with the current
salts after one without. Frames of a previous salt after the valid ones are normal, and so is a last
frame cut short (a write that did not finish).
"""

from __future__ import annotations

import struct
from pathlib import Path

__all__ = ["check"]

_MAGIC = 0x377F0682
_VERSION = 3007000
_HEADER = struct.Struct(">8I")
_FRAME_HEADER = struct.Struct(">6I")
_MASK = 0xFFFFFFFF


def _checksum(data: bytes, s0: int, s1: int, order: str) -> tuple[int, int]:
    """SQLite's WAL checksum of `data` (a multiple of 8 bytes), going on from (s0, s1)."""
    words = iter(struct.unpack(f"{order}{len(data) // 4}I", data))
    for x0, x1 in zip(words, words, strict=True):
        s0 = (s0 + x0 + s1) & _MASK
        s1 = (s1 + x1 + s0) & _MASK
    return s0, s1


def check(path: Path) -> str | None:
    """Why the write-ahead log at `path` is damaged; None when it is sound, empty or absent."""
    try:
        log = open(path, "rb")  # noqa: SIM115 - closed below; opening is what may fail
    except FileNotFoundError:
        return None
    with log:
        header = log.read(_HEADER.size)
        if not header:
            return None
        if len(header) < _HEADER.size:
            return f"its header is cut short at {len(header)} bytes"
        magic, version, page_size, _, salt1, salt2, sum1, sum2 = _HEADER.unpack(header)
        if magic & ~1 != _MAGIC:
            return "it does not begin as a write-ahead log"
        if version != _VERSION:
            return f"its format version is {version}, not {_VERSION}"
        if not 512 <= page_size <= 65536 or page_size & (page_size - 1):
            return f"its page size {page_size} is not one SQLite uses"
        order = ">" if magic & 1 else "<"
        if _checksum(header[:24], 0, 0, order) != (sum1, sum2):
            return "its header fails its checksum"
        s0, s1 = sum1, sum2
        valid_until = 0  # the first frame that is not of the current salts (0: none yet)
        index = 0
        while len(frame := log.read(_FRAME_HEADER.size + page_size)) == _FRAME_HEADER.size + page_size:
            index += 1
            page, _, frame_salt1, frame_salt2, frame_sum1, frame_sum2 = _FRAME_HEADER.unpack_from(frame)
            current = (frame_salt1, frame_salt2) == (salt1, salt2)
            if valid_until:
                if current:
                    return f"frame {index} has the log's salts after frame {valid_until}, which has not"
                continue
            if not current:
                valid_until = index  # what follows is left from before the log restarted
                continue
            s0, s1 = _checksum(frame[:8] + frame[_FRAME_HEADER.size:], s0, s1, order)
            if page == 0 or (s0, s1) != (frame_sum1, frame_sum2):
                return f"frame {index} has the log's salts but fails its checksum"
    return None
