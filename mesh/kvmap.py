"""The shared key-value map as one replica holds it: last-writer-wins registers and a hash tree.

Every register is a signed `KvEntry` for (db, table, key); a newer stamp (physical ms, logical, writer)
replaces an older one and nothing else does, so replicas that saw the same entries hold the same map
whatever the order. Deletes are tombstones (value None) and expiry is a field of the register, so both
travel like writes and are collected later (`collect`), never dropped on sight.

For anti-entropy the map keeps a two-level hash tree over 65,536 buckets (256 groups of 256): a key's
bucket is the first two bytes of its key id; a bucket's hash is the XOR of its entries' 64-bit hashes, a
group's the XOR of its buckets', the root the XOR of everything. XOR makes every update O(1) and the
hashes independent of insertion order. Only non-zero buckets and groups are stored, so an empty or small
map costs nothing (the simulator holds thousands of replicas). Each (db, table) keeps its keys sorted for
prefix listing.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator

from sortedcontainers import SortedDict

from .messages import KvEntry

__all__ = ["BUCKETS", "GROUPS", "HASH_SIZE", "KEY_ID_SIZE", "KvMap", "entry_hash", "key_id", "prefix_end", "visible"]

GROUPS = 256
BUCKETS = GROUPS * 256
HASH_SIZE = 8
KEY_ID_SIZE = 16
_STAMP = struct.Struct(">QQ")
_LEN = struct.Struct(">H")


def key_id(db: str, table: str, key: str) -> bytes:
    """The 16-byte id of a key; its first two bytes pick the bucket."""
    parts = [p.encode() for p in (db, table, key)]
    data = b"".join(_LEN.pack(len(p)) + p for p in parts)
    return hashlib.blake2b(data, digest_size=KEY_ID_SIZE, person=b"kv-key").digest()


def entry_hash(kid: bytes, entry: KvEntry) -> int:
    """The 64-bit hash of one register version (its key and stamp name it: the signature fixes the rest)."""
    data = kid + _STAMP.pack(entry.physical_ms, entry.logical) + entry.writer
    return int.from_bytes(hashlib.blake2b(data, digest_size=HASH_SIZE, person=b"kv-entry").digest(), "big")


def visible(entry: KvEntry, now_ms: int) -> bool:
    """A register reads as present: not a tombstone and not expired."""
    return entry.value is not None and (entry.expire_at == 0 or entry.expire_at > now_ms)


def prefix_end(prefix: str) -> str | None:
    """The least string above every string that starts with `prefix` (None: no bound)."""
    while prefix and prefix[-1] == "\U0010ffff":
        prefix = prefix[:-1]
    return prefix[:-1] + chr(ord(prefix[-1]) + 1) if prefix else None


def _bucket(kid: bytes) -> int:
    return (kid[0] << 8) | kid[1]


class KvMap:
    """One replica's registers, hash tree and per-table key order."""

    __slots__ = ("_bucket_hash", "_buckets", "_entries", "_group_hash", "_hashes", "_mortal", "_tables", "root")

    def __init__(self) -> None:
        self._entries: dict[bytes, KvEntry] = {}
        self._hashes: dict[bytes, int] = {}
        self._buckets: dict[int, set[bytes]] = {}
        self._bucket_hash: dict[int, int] = {}
        self._group_hash: dict[int, int] = {}
        self._tables: dict[tuple[str, str], SortedDict] = {}
        self._mortal: set[bytes] = set()  # tombstones and registers with an expiry: what `collect` scans
        self.root = 0

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, kid: bytes) -> KvEntry | None:
        return self._entries.get(kid)

    def newer(self, kid: bytes, entry: KvEntry) -> bool:
        """Whether `entry` would replace what the map holds for its key."""
        held = self._entries.get(kid)
        return held is None or entry.stamp > held.stamp

    def put(self, kid: bytes, entry: KvEntry) -> KvEntry | None:
        """Install `entry` (the caller checked `newer`); returns the register it replaced."""
        old = self._entries.get(kid)
        h = entry_hash(kid, entry)
        delta = h ^ self._hashes[kid] if old is not None else h
        self._entries[kid] = entry
        self._hashes[kid] = h
        self._xor(kid, delta)
        if entry.value is None or entry.expire_at:
            self._mortal.add(kid)
        else:
            self._mortal.discard(kid)
        if old is None:
            self._buckets.setdefault(_bucket(kid), set()).add(kid)
            index = self._tables.get((entry.db, entry.table))
            if index is None:
                index = self._tables[(entry.db, entry.table)] = SortedDict()
            index[entry.key] = kid
        return old

    def remove(self, kid: bytes) -> KvEntry | None:
        old = self._entries.pop(kid, None)
        if old is None:
            return None
        self._xor(kid, self._hashes.pop(kid))
        self._mortal.discard(kid)
        bucket = _bucket(kid)
        members = self._buckets[bucket]
        members.discard(kid)
        if not members:
            del self._buckets[bucket]
        table = self._tables[(old.db, old.table)]
        del table[old.key]
        if not table:
            del self._tables[(old.db, old.table)]
        return old

    def _xor(self, kid: bytes, delta: int) -> None:
        bucket = _bucket(kid)
        for tree, index in ((self._bucket_hash, bucket), (self._group_hash, bucket >> 8)):
            value = tree.get(index, 0) ^ delta
            if value:
                tree[index] = value
            else:
                tree.pop(index, None)
        self.root ^= delta

    # ---- reads ----------------------------------------------------------------------------------

    def entries(self) -> Iterator[KvEntry]:
        return iter(self._entries.values())

    def mortal(self) -> list[KvEntry]:
        """Tombstones and registers with an expiry."""
        return [self._entries[kid] for kid in self._mortal]

    def keys(self, db: str, table: str, prefix: str, reverse: bool) -> Iterator[bytes]:
        """Key ids of (db, table) whose key starts with `prefix`, in key order."""
        index = self._tables.get((db, table))
        if index is None:
            return iter(())
        names = index.irange(prefix or None, prefix_end(prefix), inclusive=(True, False), reverse=reverse)
        return (index[name] for name in names)

    def tables(self) -> Iterable[tuple[str, str]]:
        return self._tables.keys()

    # ---- the hash tree --------------------------------------------------------------------------

    def group_hashes(self) -> list[int]:
        return [self._group_hash.get(g, 0) for g in range(GROUPS)]

    def bucket_hashes(self, group: int) -> list[int]:
        base = group << 8
        return [self._bucket_hash.get(base + i, 0) for i in range(256)]

    def bucket(self, bucket: int) -> list[tuple[bytes, int]]:
        """(key id, entry hash) of every register in one bucket."""
        return [(kid, self._hashes[kid]) for kid in self._buckets.get(bucket, ())]
