"""What is signed, by whom, and how the core checks it.

The core never touches keys. It is given `Credentials` (this node: its id, certificate chain and a
`sign` function) and a `Verifier` (everyone else: signature checks and admission of a certificate chain).
Alive claims, leave statements, owned entries and key-value registers are signed by the node they are about, over a canonical
CBOR encoding of their fields prefixed by a domain tag, so a signature for one kind of claim can never be
replayed as another. Admission (does this chain lead to the mesh root, with `node_id` as leaf subject?) is
cached per (node_id, chain) in `Admissions`, so a chain is checked once however often it is gossiped; a
member whose key was revoked (`Admissions.revoke`) is refused from then on, whatever chain it shows.

Key-value registers committed together are signed together: a register alone carries a plain signature
over its bytes; one of a batch carries the signature of the batch's Merkle root followed by its path to
that root (`merkle.py`). `Admissions` remembers the last `_ROOTS` roots whose signature checked, so the
other registers of a batch cost a few hashes each instead of a curve operation.
"""

from __future__ import annotations

from typing import Protocol

import cbor2

from .merkle import MAX_LEAVES, leaf_hash, paths, root_of
from .messages import Alive, KvEntry, Leave, Owned

__all__ = [
    "SIGNATURE_SIZE",
    "Admissions",
    "Credentials",
    "Verifier",
    "alive_payload",
    "kv_batch_payload",
    "kv_payload",
    "leave_payload",
    "owned_payload",
    "sign_alive",
    "sign_kv",
    "sign_kv_batch",
    "sign_leave",
    "sign_owned",
]

SIGNATURE_SIZE = 64
"""Bytes of an ed25519 signature; a register's signature longer than this is a root's and a path."""

_ROOTS = 4096
"""Batch roots whose signature checked, remembered per core (the oldest is forgotten first)."""


class Credentials(Protocol):
    """This node's identity."""

    node_id: bytes
    """32-byte raw ed25519 public key."""
    chain: bytes
    """This node's encoded certificate chain (travels in alive claims)."""

    def sign(self, data: bytes) -> bytes: ...


class Verifier(Protocol):
    """Checks claims made by other nodes."""

    def verify(self, node_id: bytes, data: bytes, signature: bytes) -> bool: ...

    def admit(self, node_id: bytes, chain: bytes) -> bool:
        """True if `chain` leads to the mesh root and its leaf subject is `node_id`."""
        ...

    def accepts(self, entry: KvEntry, held: KvEntry | None) -> bool:
        """True if the node's policy lets a correctly signed register replace `held` (the node checks the
        records of the reserved `auth` database and refuses a revoked writer's registers)."""
        ...


def alive_payload(node_id: bytes, address: str, generation: int, incarnation: int, chain: bytes) -> bytes:
    """The bytes an alive claim's signature covers."""
    return cbor2.dumps(["micro/alive", node_id, address, generation, incarnation, chain])


def leave_payload(node_id: bytes, generation: int, incarnation: int) -> bytes:
    """The bytes a leave statement's signature covers."""
    return cbor2.dumps(["micro/leave", node_id, generation, incarnation])


def owned_payload(node_id: bytes, generation: int, counter: int, key: str, value: bytes | None) -> bytes:
    """The bytes an owned entry's signature covers."""
    return cbor2.dumps(["micro/owned", node_id, generation, counter, key, value])


def kv_payload(
    db: str, table: str, key: str, value: bytes | None, expire_at: int, physical_ms: int, logical: int,
    writer: bytes,
) -> bytes:
    """The bytes a key-value register's signature covers."""
    return cbor2.dumps(["micro/kv", db, table, key, value, expire_at, physical_ms, logical, writer])


def _entry_payload(e: KvEntry) -> bytes:
    return kv_payload(e.db, e.table, e.key, e.value, e.expire_at, e.physical_ms, e.logical, e.writer)


def kv_batch_payload(writer: bytes, root: bytes) -> bytes:
    """The bytes a batch signature covers: the Merkle root over the batch's registers."""
    return cbor2.dumps(["micro/kv-batch", writer, root])


def sign_alive(creds: Credentials, address: str, generation: int, incarnation: int) -> Alive:
    """This node's alive claim."""
    payload = alive_payload(creds.node_id, address, generation, incarnation, creds.chain)
    return Alive(creds.node_id, address, generation, incarnation, creds.chain, creds.sign(payload))


def sign_leave(creds: Credentials, generation: int, incarnation: int) -> Leave:
    """This node's leave statement."""
    payload = leave_payload(creds.node_id, generation, incarnation)
    return Leave(creds.node_id, generation, incarnation, creds.sign(payload))


def sign_owned(creds: Credentials, generation: int, counter: int, key: str, value: bytes | None) -> Owned:
    """One signed entry of this node's owned state."""
    payload = owned_payload(creds.node_id, generation, counter, key, value)
    return Owned(creds.node_id, generation, counter, key, value, creds.sign(payload))


def sign_kv(
    creds: Credentials, db: str, table: str, key: str, value: bytes | None, expire_at: int,
    physical_ms: int, logical: int,
) -> KvEntry:
    """One signed key-value register written by this node."""
    payload = kv_payload(db, table, key, value, expire_at, physical_ms, logical, creds.node_id)
    return KvEntry(db, table, key, value, expire_at, physical_ms, logical, creds.node_id, creds.sign(payload))


def sign_kv_batch(creds: Credentials, drafts: list[KvEntry]) -> list[KvEntry]:
    """`drafts` (this node's registers, signature not yet set) signed: alone, each over its own bytes;
    in batches of up to `MAX_LEAVES`, one signature per batch over its Merkle root."""
    signed: list[KvEntry] = []
    for start in range(0, len(drafts), MAX_LEAVES):
        batch = drafts[start:start + MAX_LEAVES]
        if len(batch) == 1:
            d = batch[0]
            signed.append(sign_kv(creds, d.db, d.table, d.key, d.value, d.expire_at, d.physical_ms, d.logical))
            continue
        root, routes = paths([leaf_hash(_entry_payload(d)) for d in batch])
        seal = creds.sign(kv_batch_payload(creds.node_id, root))
        signed.extend(
            KvEntry(d.db, d.table, d.key, d.value, d.expire_at, d.physical_ms, d.logical, creds.node_id, seal + route)
            for d, route in zip(batch, routes)
        )
    return signed


class Admissions:
    """Signature checks for claims, with admission of chains cached per (node_id, chain)."""

    __slots__ = ("_cache", "_revoked", "_roots", "_verifier")

    def __init__(self, verifier: Verifier) -> None:
        self._verifier = verifier
        self._cache: dict[tuple[bytes, bytes], bool] = {}
        self._revoked: set[bytes] = set()
        self._roots: dict[tuple[bytes, bytes, bytes], None] = {}

    def admit(self, node_id: bytes, chain: bytes) -> bool:
        """True if the node may be a member (checked once per distinct chain; never once revoked)."""
        if node_id in self._revoked:
            return False
        key = (node_id, chain)
        admitted = self._cache.get(key)
        if admitted is None:
            admitted = self._cache[key] = bool(self._verifier.admit(node_id, chain))
        return admitted

    def revoke(self, node_id: bytes) -> bool:
        """Refuse `node_id` from now on, forgetting its cached admissions; False if it already was."""
        if node_id in self._revoked:
            return False
        self._revoked.add(node_id)
        for key in [key for key in self._cache if key[0] == node_id]:
            del self._cache[key]
        return True

    def revoked(self, node_id: bytes) -> bool:
        return node_id in self._revoked

    def alive_signed(self, claim: Alive) -> bool:
        payload = alive_payload(
            claim.node_id, claim.address, claim.generation, claim.incarnation, claim.chain
        )
        return bool(self._verifier.verify(claim.node_id, payload, claim.signature))

    def leave_signed(self, leave: Leave) -> bool:
        payload = leave_payload(leave.node_id, leave.generation, leave.incarnation)
        return bool(self._verifier.verify(leave.node_id, payload, leave.signature))

    def kv_signed(self, e: KvEntry) -> bool:
        payload = _entry_payload(e)
        signature = e.signature
        if len(signature) <= SIGNATURE_SIZE:
            return bool(self._verifier.verify(e.writer, payload, signature))
        root = root_of(leaf_hash(payload), signature[SIGNATURE_SIZE:])
        if root is None:
            return False
        checked = (e.writer, root, signature[:SIGNATURE_SIZE])
        if checked in self._roots:
            return True
        if not self._verifier.verify(e.writer, kv_batch_payload(e.writer, root), checked[2]):
            return False
        self._roots[checked] = None
        if len(self._roots) > _ROOTS:
            del self._roots[next(iter(self._roots))]
        return True

    def accepts(self, entry: KvEntry, held: KvEntry | None) -> bool:
        return bool(self._verifier.accepts(entry, held))

    def owned_signed(self, entry: Owned) -> bool:
        payload = owned_payload(entry.node_id, entry.generation, entry.counter, entry.key, entry.value)
        return bool(self._verifier.verify(entry.node_id, payload, entry.signature))
