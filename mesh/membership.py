"""The member table and every membership state transition.

A member's life is ordered by (generation, incarnation): the generation grows each time the node
restarts, the incarnation each time it refutes a suspicion. Within one (generation, incarnation) the
states rank ALIVE < SUSPECT < DEAD < LEFT. The rules, all here:

- an alive claim is accepted if its (generation, incarnation) is above the record's (or the node is new);
- a suspect, dead or leave statement is accepted only for the record's generation, if its
  (incarnation, rank) is above the record's; a suspect of the very life already suspected is a
  confirmation; statements about unknown nodes or other generations are stale.

Records are immutable (`MemberRecord`, frozen with slots) and replaced on change, so ten thousand
simulated cores can start from one `MemberTemplate` and share every record object; only the dict is
copied per core. Each record carries a 128-bit hash of (id, generation, incarnation, state), and the
table keeps the XOR of those hashes, so the view hash used by anti-entropy changes in O(1) per update.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from enum import Enum

from .events import Member, MemberState
from .messages import Alive, Dead, Leave, Suspect

__all__ = [
    "RANK",
    "Change",
    "MemberRecord",
    "MemberState",
    "MemberTemplate",
    "Membership",
    "Statement",
    "Verdict",
]

Statement = Suspect | Dead | Leave

RANK = {MemberState.ALIVE: 0, MemberState.SUSPECT: 1, MemberState.DEAD: 2, MemberState.LEFT: 3}
_STATE_OF = {Suspect: MemberState.SUSPECT, Dead: MemberState.DEAD, Leave: MemberState.LEFT}
_PACK = struct.Struct("<QQB")


def record_hash(node_id: bytes, generation: int, incarnation: int, state: MemberState) -> int:
    """128-bit hash of one member's version, XOR-combined into the view hash."""
    data = node_id + _PACK.pack(generation, incarnation, RANK[state])
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "little")


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """What this node knows about one member: its latest signed claim and current state."""

    claim: Alive
    state: MemberState
    generation: int
    incarnation: int
    statement: Statement | None
    """The suspect/dead/leave statement that put the member in its state (None when alive)."""
    since: float
    """When the state was entered (driver clock; 0 for records built from known claims)."""
    version_hash: int = field(init=False, compare=False)
    rank: int = field(init=False, compare=False)
    """The state's rank: ALIVE 0 < SUSPECT 1 < DEAD 2 < LEFT 3 (stored: it is read on every message)."""

    def __post_init__(self) -> None:
        h = record_hash(self.claim.node_id, self.generation, self.incarnation, self.state)
        object.__setattr__(self, "version_hash", h)
        object.__setattr__(self, "rank", RANK[self.state])

    @property
    def node_id(self) -> bytes:
        return self.claim.node_id

    @classmethod
    def alive(cls, claim: Alive, now: float) -> MemberRecord:
        return cls(claim, MemberState.ALIVE, claim.generation, claim.incarnation, None, now)

    def member(self) -> Member:
        """The public snapshot of this record."""
        return Member(self.claim.node_id, self.claim.address, self.state, self.generation, self.incarnation)


@dataclass(frozen=True, slots=True)
class Change:
    """One accepted transition (old is None for a new member)."""

    old: MemberRecord | None
    new: MemberRecord


class Verdict(Enum):
    """How a received claim relates to the table."""

    NEW = "new"
    CONFIRM = "confirm"
    STALE = "stale"
    UNKNOWN = "unknown"


class MemberTemplate:
    """Alive records built once from trusted claims and shared by any number of tables."""

    __slots__ = ("records", "view_hash")

    def __init__(self, claims: Iterable[Alive]) -> None:
        self.records: dict[bytes, MemberRecord] = {}
        for claim in claims:
            old = self.records.get(claim.node_id)
            if old is None or (claim.generation, claim.incarnation) > (old.generation, old.incarnation):
                self.records[claim.node_id] = MemberRecord.alive(claim, 0.0)
        self.view_hash = 0
        for record in self.records.values():
            self.view_hash ^= record.version_hash


class Membership:
    """The member table of one core: records, the view hash, the live count and the down set."""

    __slots__ = ("_down", "_records", "live", "view_hash")

    def __init__(self, template: MemberTemplate | None = None) -> None:
        self._records: dict[bytes, MemberRecord] = dict(template.records) if template else {}
        self.view_hash = template.view_hash if template else 0
        self.live = len(self._records)
        self._down: dict[bytes, None] = {}

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[MemberRecord]:
        return iter(self._records.values())

    def get(self, node_id: bytes) -> MemberRecord | None:
        return self._records.get(node_id)

    def ids(self) -> list[bytes]:
        """All member ids (O(N); used once per probe pass)."""
        return list(self._records)

    def down(self) -> list[bytes]:
        """Ids of dead and left members."""
        return list(self._down)

    def any_down(self) -> bool:
        return bool(self._down)

    def judge_alive(self, claim: Alive) -> Verdict:
        record = self._records.get(claim.node_id)
        if record is None or (claim.generation, claim.incarnation) > (record.generation, record.incarnation):
            return Verdict.NEW
        return Verdict.STALE

    def judge_statement(self, statement: Statement) -> Verdict:
        record = self._records.get(statement.node_id)
        if record is None:
            return Verdict.UNKNOWN
        if statement.generation != record.generation:
            return Verdict.STALE
        state = _STATE_OF[type(statement)]
        if (statement.incarnation, RANK[state]) > (record.incarnation, record.rank):
            return Verdict.NEW
        if (
            state is MemberState.SUSPECT
            and record.state is state
            and statement.incarnation == record.incarnation
        ):
            return Verdict.CONFIRM
        return Verdict.STALE

    def apply_alive(self, claim: Alive, now: float) -> Change:
        """Install an alive claim already judged NEW (and verified by the caller)."""
        return self._replace(claim.node_id, MemberRecord.alive(claim, now))

    def apply_statement(self, statement: Statement, now: float) -> Change:
        """Install a suspect/dead/leave statement already judged NEW."""
        old = self._records[statement.node_id]
        state = _STATE_OF[type(statement)]
        new = MemberRecord(old.claim, state, old.generation, statement.incarnation, statement, now)
        return self._replace(statement.node_id, new)

    def remove(self, node_id: bytes) -> MemberRecord | None:
        """Forget a member (reaping)."""
        old = self._records.pop(node_id, None)
        if old is not None:
            self._account(old, -1)
        return old

    def _replace(self, node_id: bytes, new: MemberRecord) -> Change:
        old = self._records.get(node_id)
        if old is not None:
            self._account(old, -1)
        self._records[node_id] = new
        self._account(new, +1)
        return Change(old, new)

    def _account(self, record: MemberRecord, sign: int) -> None:
        self.view_hash ^= record.version_hash
        if record.rank < RANK[MemberState.DEAD]:
            self.live += sign
        elif sign > 0:
            self._down[record.node_id] = None
        else:
            self._down.pop(record.node_id, None)
