"""Which nodes a partition's events are copied to, and which holder a read asks: the replica decisions
of event streams, pure (no IO), from what the caller knows (the live members, the holders' heads).

- `rank` orders members for a partition by rendezvous hashing of (topic, origin, member): every node
  that knows the same members ranks them the same, the order holds while the membership does, and a
  member that leaves moves only the partitions it ranked high in.
- `copy_plan` is whom an origin copies its partition to: k = min(replicas, live members) peers, taken
  in order from the members that hold a copy already (so a node joining takes no partition over, with a
  backfill of all of it, until a replica is lost), then the others by rank; a peer that fails is
  replaced by the next in that order.
- A read is served from this node's copy when it reaches what is wanted, or no one holds the partition
  (`reads_here`); else from the live holders, the origin first, then the highest heads, with this node's
  own shorter copy as the last resort (`read_sources`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Container, Iterable, Mapping

__all__ = ["copy_plan", "rank", "read_sources", "reads_here"]


def rank(topic: str, origin: str, members: Iterable[str]) -> list[str]:
    """`members` ranked for the partition, highest rendezvous score first."""

    def score(member: str) -> bytes:
        return hashlib.blake2b(f"{topic}\0{origin}\0{member}".encode(), digest_size=8).digest()

    return sorted(members, key=score, reverse=True)


def copy_plan(topic: str, origin: str, members: Collection[str], holders: Container[str],
              replicas: int) -> tuple[list[str], int]:
    """The live `members` (other than the origin) in the order to copy the partition to them, those in
    `holders` first, and how many of them must acknowledge a copy: `replicas`, or all when fewer."""
    ranked = sorted(rank(topic, origin, members), key=lambda member: member not in holders)
    return ranked, min(replicas, len(members))


def reads_here(here: str, holders: Mapping[str, tuple[int, int]], from_offset: int, limit: int) -> bool:
    """Whether this node (`here`) serves a read of up to `limit` events from `from_offset` (0: every
    retained one, so up to the highest head) from its own copy: it reaches what is wanted of what the
    `holders` (node -> (first, head), this one included) hold, or no one holds the partition."""
    if not holders:
        return True
    mine = holders.get(here)
    best = max(head for _, head in holders.values())
    wanted = min(from_offset + limit - 1, best) if from_offset else best
    return mine is not None and mine[1] >= wanted


def read_sources(origin: str, here: str, holders: Mapping[str, tuple[int, int]],
                 alive: Container[str]) -> list[str]:
    """The holders to ask in turn for a read this node's copy does not serve: the live ones (`alive`
    holds the live members other than this node), the origin first, then by highest head; then `here`
    (its shorter copy) when it holds the partition."""
    others = sorted((h for h in holders if h in alive and h != here),
                    key=lambda h: (h != origin, -holders[h][1]))
    return [*others, here] if here in holders else others
