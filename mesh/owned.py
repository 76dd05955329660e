"""Node-owned state: one small versioned map per node, written only by that node.

A node publishes entries (key -> bytes, or None to delete) signed by itself and versioned by
(generation, counter); the counter grows with every write of the node, across keys. A replica accepts an
entry only while the owner is a live member in the entry's generation, and only if it is newer than what
it holds for that key; deletions are kept as tombstones while the owner lives, so a stale write cannot
resurrect a key. The map's version (its highest entry version) is what scuttlebutt digests carry, and
`entries_after` yields exactly what a peer with an older version lacks.

When the owner leaves, is declared dead or restarts in a new generation, its map is dropped at once
(`drop`); a refuting owner re-announces its entries. The store keeps the XOR of per-node version hashes
so the anti-entropy view hash stays O(1) per change.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping

from .messages import Owned

__all__ = ["OwnedStore", "Version"]

Version = tuple[int, int]
_PACK = struct.Struct("<QQ")


def _version_hash(node_id: bytes, version: Version) -> int:
    data = node_id + _PACK.pack(*version)
    return int.from_bytes(hashlib.blake2b(data, digest_size=16, person=b"owned").digest(), "little")


class _NodeMap:
    __slots__ = ("entries", "generation", "version")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.entries: dict[str, Owned] = {}
        self.version: Version = (generation, 0)


class OwnedStore:
    """Every node's owned map as held by this node."""

    __slots__ = ("_maps", "view_hash")

    def __init__(self) -> None:
        self._maps: dict[bytes, _NodeMap] = {}
        self.view_hash = 0

    def version(self, node_id: bytes) -> Version:
        m = self._maps.get(node_id)
        return m.version if m else (0, 0)

    def versions(self) -> dict[bytes, Version]:
        """The version of every node this store holds a map of (any other node's is (0, 0))."""
        return {node_id: m.version for node_id, m in self._maps.items()}

    def is_newer(self, entry: Owned) -> bool:
        """True if `entry` is newer than what is held for its key (the owner's liveness is checked by the caller)."""
        m = self._maps.get(entry.node_id)
        if m is None or entry.generation > m.generation:
            return True
        if entry.generation < m.generation:
            return False
        old = m.entries.get(entry.key)
        return old is None or entry.counter > old.counter

    def apply(self, entry: Owned) -> bool:
        """Install an entry judged newer; True if the visible value changed."""
        m = self._maps.get(entry.node_id)
        if m is None or entry.generation > m.generation:
            self.drop(entry.node_id)
            m = self._maps[entry.node_id] = _NodeMap(entry.generation)
        else:
            self.view_hash ^= _version_hash(entry.node_id, m.version)
        old = m.entries.get(entry.key)
        m.entries[entry.key] = entry
        m.version = max(m.version, (entry.generation, entry.counter))
        self.view_hash ^= _version_hash(entry.node_id, m.version)
        return (old.value if old else None) != entry.value

    def drop(self, node_id: bytes) -> list[str]:
        """Forget a node's map; returns the keys that held values."""
        m = self._maps.pop(node_id, None)
        if m is None:
            return []
        self.view_hash ^= _version_hash(node_id, m.version)
        return [key for key, entry in m.entries.items() if entry.value is not None]

    def values(self, node_id: bytes) -> Mapping[str, bytes]:
        """The node's live keys and values."""
        m = self._maps.get(node_id)
        if m is None:
            return {}
        return {key: e.value for key, e in m.entries.items() if e.value is not None}

    def entries(self, node_id: bytes) -> list[Owned]:
        """All entries of a node, tombstones included."""
        m = self._maps.get(node_id)
        return list(m.entries.values()) if m else []

    def entries_after(self, node_id: bytes, version: Version) -> list[Owned]:
        """The node's entries newer than `version`."""
        m = self._maps.get(node_id)
        if m is None or m.version <= version:
            return []
        return [e for e in m.entries.values() if (e.generation, e.counter) > version]
