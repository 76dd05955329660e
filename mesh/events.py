"""Events the core delivers to its driver through `MeshCore.next_event()`.

Past-tense frozen dataclasses. Membership events carry a `Member` snapshot taken at the transition
(a plain value class, for speed).
`MemberJoined` is also delivered when a dead or left node comes back in a new life; `MemberRecovered`
when a suspected node refuted the suspicion; `MemberUpdated` when a live node changed its address or
incarnation. `OwnedStateChanged` reports remote owned-state changes (value None: deleted, including when
the owner left or died). The `Kv*` events tell the driver what to persist of the shared key-value map.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from .messages import KvEntry, KvWriter

__all__ = [
    "Event",
    "KvChanged",
    "KvPurged",
    "KvWriterKnown",
    "Member",
    "MemberFailed",
    "MemberJoined",
    "MemberLeft",
    "MemberReaped",
    "MemberRecovered",
    "MemberState",
    "MemberSuspected",
    "MemberUpdated",
    "OwnedStateChanged",
]


class MemberState(Enum):
    """What this node believes about a member."""

    ALIVE = 0
    SUSPECT = 1
    DEAD = 2
    LEFT = 3


class Member:
    """Public view of one member: a value, compared and hashed by its fields, never modified. A plain
    class rather than a frozen dataclass: compiled, its construction is native (a frozen dataclass's
    generated `__init__` stays interpreted), and the core builds one per membership event, which in a
    10,000-node simulation is millions."""

    __slots__ = ("address", "generation", "incarnation", "node_id", "state")

    def __init__(self, node_id: bytes, address: str, state: MemberState, generation: int,
                 incarnation: int) -> None:
        self.node_id = node_id
        self.address = address
        self.state = state
        self.generation = generation
        self.incarnation = incarnation

    def _fields(self) -> tuple[bytes, str, MemberState, int, int]:
        return self.node_id, self.address, self.state, self.generation, self.incarnation

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Member) and self._fields() == other._fields()

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        return (f"Member(node_id={self.node_id!r}, address={self.address!r}, state={self.state}, "
                f"generation={self.generation}, incarnation={self.incarnation})")


@dataclass(frozen=True, slots=True)
class MemberJoined:
    member: Member


@dataclass(frozen=True, slots=True)
class MemberUpdated:
    member: Member


@dataclass(frozen=True, slots=True)
class MemberSuspected:
    member: Member
    accuser: bytes


@dataclass(frozen=True, slots=True)
class MemberRecovered:
    member: Member


@dataclass(frozen=True, slots=True)
class MemberFailed:
    member: Member


@dataclass(frozen=True, slots=True)
class MemberLeft:
    member: Member


@dataclass(frozen=True, slots=True)
class MemberReaped:
    """A dead or left member was forgotten after `dead_reap_time`."""

    node_id: bytes


@dataclass(frozen=True, slots=True)
class OwnedStateChanged:
    node_id: bytes
    key: str
    value: bytes | None


@dataclass(frozen=True, slots=True)
class KvChanged:
    """A register was installed in the local replica (a local publish or a newer remote entry).

    The driver persists `entry` (tombstones too) and feeds watches; `previous` is what it replaced.
    """

    entry: KvEntry
    previous: KvEntry | None


@dataclass(frozen=True, slots=True)
class KvPurged:
    """Tombstones and expired registers collected from the replica; the driver deletes them from storage."""

    entries: tuple[KvEntry, ...]


@dataclass(frozen=True, slots=True)
class KvWriterKnown:
    """A writer's certificate chain the replica now holds; the driver stores it with the entries."""

    writer: KvWriter


Event = (
    MemberJoined
    | MemberUpdated
    | MemberSuspected
    | MemberRecovered
    | MemberFailed
    | MemberLeft
    | MemberReaped
    | OwnedStateChanged
    | KvChanged
    | KvPurged
    | KvWriterKnown
)
