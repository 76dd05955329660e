"""Merkle trees over a batch of signed items: one signature covers the batch, each item carries its path.

A node that commits many key-value registers at once signs the root of a binary hash tree over them
instead of each register, and every register travels with the proof that leads from its own hash to that
root. A receiver recomputes the root from the register and its path, and checks the root's signature once
per batch (see `trust.Admissions`), so replicating a batch costs one signature check, not one per register.

Leaves and inner nodes are BLAKE2b-256 hashes under different personalisations, so a leaf can never pass
for an inner node (the second-preimage defence of RFC 6962). A level with an odd count carries its last
node up unchanged. A path is `index` and `count` (2 bytes each, big-endian) followed by the sibling
hashes from the leaf upwards; which side each sibling is on, and which levels have none, follow from
`index` and `count`, so a path that does not fit them exactly is refused.
"""

from __future__ import annotations

import hashlib

__all__ = ["HASH_SIZE", "MAX_LEAVES", "MAX_PATH", "leaf_hash", "paths", "root_of"]

HASH_SIZE = 32
MAX_LEAVES = 1024
"""Most leaves under one root (signers split longer batches), so a path holds at most 10 siblings."""
MAX_PATH = 4 + 10 * HASH_SIZE
"""Longest path in bytes: index, count and a sibling per level of a `MAX_LEAVES` tree."""

_LEAF = b"micro-leaf"
_NODE = b"micro-node"


def leaf_hash(data: bytes) -> bytes:
    """The tree's hash of one item's signed bytes."""
    return hashlib.blake2b(data, digest_size=HASH_SIZE, person=_LEAF).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.blake2b(left + right, digest_size=HASH_SIZE, person=_NODE).digest()


def paths(leaves: list[bytes]) -> tuple[bytes, list[bytes]]:
    """The root over `leaves` (1 to `MAX_LEAVES` hashes) and the path of each leaf, in order."""
    count = len(leaves)
    if not 0 < count <= MAX_LEAVES:
        raise ValueError(f"a tree has 1 to {MAX_LEAVES} leaves, not {count}")
    header = count.to_bytes(2, "big")
    siblings: list[list[bytes]] = [[] for _ in range(count)]
    # members[j] lists the leaves under node j of the current level.
    members: list[list[int]] = [[i] for i in range(count)]
    level = leaves
    while len(level) > 1:
        upper: list[bytes] = []
        grouped: list[list[int]] = []
        for j in range(0, len(level) - 1, 2):
            for i in members[j]:
                siblings[i].append(level[j + 1])
            for i in members[j + 1]:
                siblings[i].append(level[j])
            upper.append(_node(level[j], level[j + 1]))
            grouped.append(members[j] + members[j + 1])
        if len(level) % 2:
            upper.append(level[-1])
            grouped.append(members[-1])
        level, members = upper, grouped
    return level[0], [i.to_bytes(2, "big") + header + b"".join(s) for i, s in enumerate(siblings)]


def root_of(leaf: bytes, path: bytes) -> bytes | None:
    """The root that `path` leads to from `leaf`; None if the path is malformed."""
    if len(path) < 4 or len(path) > MAX_PATH or (len(path) - 4) % HASH_SIZE:
        return None
    index = int.from_bytes(path[:2], "big")
    count = int.from_bytes(path[2:4], "big")
    if not index < count <= MAX_LEAVES:
        return None
    node = leaf
    at = 4
    while count > 1:
        if index ^ 1 < count:
            if at + HASH_SIZE > len(path):
                return None
            sibling = path[at:at + HASH_SIZE]
            at += HASH_SIZE
            node = _node(sibling, node) if index & 1 else _node(node, sibling)
        index >>= 1
        count = (count + 1) >> 1
    return node if at == len(path) else None
