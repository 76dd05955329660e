"""Push-pull anti-entropy.

Rumours can be lost; push-pull repairs whatever was. Every `push_pull_interval` (stretched for big
meshes, as memberlist does, so the mesh-wide rate stays flat) a node offers one random peer its view
hash: the XOR of per-member version hashes and per-node owned-state version hashes, maintained
incrementally by `Membership` and `OwnedStore`. Equal hashes end the exchange there (one small message).
Otherwise the peer answers with its scuttlebutt digest (node -> generation, incarnation, state, owned
version), the initiator sends what the peer lacks together with its own digest, and the peer sends what
the initiator lacks. All of it goes over the reliable path. A join is the same exchange, opened with a
digest instead of a hash.

Dead and left members are only sent to a peer that knows the node (so reaped nodes are not revived);
owned entries only for live owners, and only those newer than the peer's version.
"""

from __future__ import annotations

import math

from .membership import RANK, Membership, MemberState
from .messages import DigestEntry, Message
from .owned import OwnedStore

__all__ = ["delta", "digest", "push_pull_interval", "view_hash"]

_DOWN = RANK[MemberState.DEAD]  # ranks below it are live


def view_hash(members: Membership, owned: OwnedStore) -> bytes:
    """16 bytes summarising the whole view."""
    return (members.view_hash ^ owned.view_hash).to_bytes(16, "little")


def digest(members: Membership, owned: OwnedStore) -> tuple[DigestEntry, ...]:
    """The scuttlebutt digest of this view (members without owned state share their record's entry)."""
    versions = owned.versions()
    return tuple([
        record.digest if (version := versions.get(record.claim.node_id)) is None
        else record.digest._replace(owned_generation=version[0], owned_counter=version[1])
        for record in members
    ])


def delta(members: Membership, owned: OwnedStore, theirs: tuple[DigestEntry, ...]) -> list[Message]:
    """The claims and owned entries a peer with digest `theirs` lacks, alive claims first."""
    known = {e.node_id: e for e in theirs}
    publishers = owned.versions()
    out: list[Message] = []
    for record in members:
        node_id = record.claim.node_id
        entry = known.get(node_id)
        if entry == record.digest and node_id not in publishers:
            continue  # the peer holds this very version and there is no owned state to offer
        live = record.rank < _DOWN
        if entry is None:
            if not live:
                continue
            newer = True
            their_owned = (0, 0)
        else:
            newer = (record.generation, record.incarnation, record.rank) > (
                entry.generation,
                entry.incarnation,
                entry.state,
            )
            their_owned = (entry.owned_generation, entry.owned_counter)
        if newer:
            out.append(record.claim)
            if record.statement is not None:
                out.append(record.statement)
        if live:
            out.extend(owned.entries_after(node_id, their_owned))
    return out


def push_pull_interval(base: float, members: int) -> float:
    """`base` for up to 32 members, then one more multiple per doubling."""
    if members <= 32:
        return base
    return base * (math.ceil(math.log2(members) - math.log2(32)) + 1)
