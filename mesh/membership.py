"""The member table and every membership state transition.

A member's life is ordered by (generation, incarnation): the generation grows each time the node
restarts, the incarnation each time it refutes a suspicion. Within one (generation, incarnation) the
states rank ALIVE < SUSPECT < DEAD < LEFT. The rules, all here:

- an alive claim is accepted if its (generation, incarnation) is above the record's (or the node is new);
- a suspect, dead or leave statement is accepted only for the record's generation, if its
  (incarnation, rank) is above the record's; a suspect of the very life already suspected, by another
  accuser, is a confirmation; statements about unknown nodes or other generations are stale.

Records are immutable (`MemberRecord`: never written after construction) and replaced on change, so ten thousand
simulated cores can start from one `MemberTemplate` and share it whole: a table reads the template's
dict and keeps only its own changes in an overlay (copy on write), so starting a core is O(1) in time
and memory instead of a 10,000-entry dict copy per core. Each record carries a 128-bit hash of (id,
generation, incarnation, state), and the table keeps the XOR of those hashes, so the view hash used
by anti-entropy changes in O(1) per update.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Iterable, Iterator, Sequence
from enum import Enum
from typing import Final, cast

from .events import Member, MemberState
from .messages import Alive, Dead, DigestEntry, Leave, Suspect

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
_RANK_OF = {kind: RANK[state] for kind, state in _STATE_OF.items()}  # by type: hashing an Enum is slow
_STATES = sorted(RANK, key=RANK.__getitem__)  # by rank
_LIVE_BELOW = RANK[MemberState.DEAD]
_SUSPECT = RANK[MemberState.SUSPECT]
_PACK = struct.Struct("<QQB")
_ABSENT: Final = object()


def record_hash(node_id: bytes, generation: int, incarnation: int, rank: int) -> int:
    """128-bit hash of one member's version (`rank`: of its state), XOR-combined into the view hash."""
    data = node_id + _PACK.pack(generation, incarnation, rank)
    return int.from_bytes(hashlib.blake2b(data, digest_size=16).digest(), "little")


def _record(claim: Alive, statement: Statement | None) -> MemberRecord:
    """The record of `claim` alone (`statement` None), or of `statement` about its life. Built once per
    message and kept in its `record` slot: every table that installs one shared message (ten thousand,
    in the simulator) then shares one record, instead of each allocating its own, scattered through
    memory, to be read on every later copy of the rumour. A table holding another claim object for the
    member builds its own."""
    source: Alive | Statement = claim if statement is None else statement
    try:
        record = source.record
        if record.claim is claim:
            return record
    except AttributeError:
        pass
    record = MemberRecord(claim, statement)
    object.__setattr__(source, "record", record)  # frozen: the cache slot is set past the guard
    return record


class MemberRecord:
    """What is known about one member: its latest signed claim and current state, the same in every
    table that holds it. Never modified after construction (tables share records: see `_record`); a
    plain class, not a frozen dataclass, so that compiled its construction is native."""

    __slots__ = ("claim", "digest", "generation", "incarnation", "rank", "state", "statement",
                 "version_hash")

    def __init__(self, claim: Alive, statement: Statement | None) -> None:
        """The record of `claim` alone (`statement` None: alive), or of `statement` about its life."""
        source: Alive | Statement = claim if statement is None else statement
        rank = 0 if statement is None else _RANK_OF[type(statement)]
        self.claim = claim
        self.statement = statement
        """The suspect/dead/leave statement that put the member in its state (None when alive)."""
        self.state: MemberState = _STATES[rank]
        self.rank = rank
        """The state's rank: ALIVE 0 < SUSPECT 1 < DEAD 2 < LEFT 3 (stored: it is read on every message)."""
        self.generation = claim.generation
        self.incarnation = source.incarnation
        self.version_hash: int = record_hash(claim.node_id, claim.generation, source.incarnation, rank)
        self.digest = DigestEntry(claim.node_id, claim.generation, source.incarnation, rank, 0, 0)
        """This record's scuttlebutt digest entry with no owned state (a digest lists every member)."""

    @property
    def node_id(self) -> bytes:
        return self.claim.node_id

    def member(self) -> Member:
        """The public snapshot of this record."""
        return Member(self.claim.node_id, self.claim.address, self.state, self.generation, self.incarnation)

    def __repr__(self) -> str:
        return (f"MemberRecord({self.claim.node_id.hex()[:12]}, {self.state.name}, generation="
                f"{self.generation}, incarnation={self.incarnation})")


class Change:
    """One accepted transition (old is None for a new member)."""

    __slots__ = ("new", "old")

    def __init__(self, old: MemberRecord | None, new: MemberRecord) -> None:
        self.old = old
        self.new = new


class Verdict(Enum):
    """How a received claim relates to the table."""

    NEW = "new"
    CONFIRM = "confirm"
    STALE = "stale"
    UNKNOWN = "unknown"


class MemberTemplate:
    """Alive records built once from trusted claims and shared, never modified, by any number of tables."""

    __slots__ = ("ids", "records", "view_hash")

    def __init__(self, claims: Iterable[Alive]) -> None:
        self.records: dict[bytes, MemberRecord] = {}
        for claim in claims:
            old = self.records.get(claim.node_id)
            if old is None or (claim.generation, claim.incarnation) > (old.generation, old.incarnation):
                self.records[claim.node_id] = _record(claim, None)
        self.ids: tuple[bytes, ...] = tuple(self.records)
        self.view_hash = 0
        for record in self.records.values():
            self.view_hash ^= record.version_hash


class Membership:
    """The member table of one core: records, the view hash, the live count and the down set."""

    __slots__ = ("_base", "_down", "_ids", "_own", "_size", "live", "view_hash")

    def __init__(self, template: MemberTemplate | None = None) -> None:
        if template is None:
            template = _EMPTY
        self._base = template.records
        self._own: dict[bytes, MemberRecord | None] = {}
        """This table's changes to the template (None: a template member since removed)."""
        self._ids: tuple[bytes, ...] | None = template.ids
        """The template's ids while no member was added or removed since; None once one was."""
        self._size = len(self._base)
        self.view_hash = template.view_hash
        self.live = self._size
        self._down: dict[bytes, None] = {}

    def __len__(self) -> int:
        return self._size

    def __iter__(self) -> Iterator[MemberRecord]:
        """Every record: the template's order, then members added since in the order they came."""
        own, base = self._own, self._base
        for node_id, record in base.items():
            if node_id not in own:
                yield record
            elif (mine := own[node_id]) is not None:
                yield mine
        for node_id, mine in own.items():
            if mine is not None and node_id not in base:
                yield mine

    def get(self, node_id: bytes) -> MemberRecord | None:
        mine = self._own.get(node_id, _ABSENT)  # one lookup; None there means removed from the template
        if mine is _ABSENT:
            return self._base.get(node_id)
        return cast("MemberRecord | None", mine)

    def ids(self) -> Sequence[bytes]:
        """All member ids, not to be modified (shared with the template until the set changes; O(N)
        afterwards, used once per probe pass)."""
        if self._ids is not None:
            return self._ids
        return [record.node_id for record in self]

    def is_live(self, node_id: bytes) -> bool:
        """Whether `node_id` is a member that is alive or suspect."""
        return self.live_record(node_id) is not None

    def live_record(self, node_id: bytes) -> MemberRecord | None:
        """The record of `node_id` if it is a member that is alive or suspect, else None."""
        record = self.get(node_id)
        return record if record is not None and record.rank < _LIVE_BELOW else None

    def down(self) -> list[bytes]:
        """Ids of dead and left members."""
        return list(self._down)

    def any_down(self) -> bool:
        return bool(self._down)

    def judge_alive(self, claim: Alive) -> Verdict:
        record = self.get(claim.node_id)
        if record is None or (claim.generation, claim.incarnation) > (record.generation, record.incarnation):
            return Verdict.NEW
        return Verdict.STALE

    def judge_statement(self, statement: Statement) -> Verdict:
        record = self.get(statement.node_id)
        if record is None:
            return Verdict.UNKNOWN
        if statement.generation != record.generation:
            return Verdict.STALE
        rank = _RANK_OF[type(statement)]
        incarnation = statement.incarnation
        if incarnation > record.incarnation or (incarnation == record.incarnation and rank > record.rank):
            return Verdict.NEW
        if rank == record.rank == _SUSPECT and incarnation == record.incarnation:
            held = record.statement
            # One more copy of the suspicion held (the usual case) confirms nothing: same accuser.
            if held is statement or (isinstance(held, Suspect) and isinstance(statement, Suspect)
                                     and held.accuser == statement.accuser):
                return Verdict.STALE
            return Verdict.CONFIRM
        return Verdict.STALE

    def apply_alive(self, claim: Alive) -> Change:
        """Install an alive claim already judged NEW (and verified by the caller)."""
        return self._replace(claim.node_id, _record(claim, None))

    def apply_statement(self, statement: Statement) -> Change:
        """Install a suspect/dead/leave statement already judged NEW."""
        old = self.get(statement.node_id)
        assert old is not None
        return self._replace(statement.node_id, _record(old.claim, statement))

    def remove(self, node_id: bytes) -> MemberRecord | None:
        """Forget a member (reaping)."""
        old = self.get(node_id)
        if old is not None:
            if node_id in self._base:
                self._own[node_id] = None
            else:
                del self._own[node_id]
            self._size -= 1
            self._ids = None
            self._account(old, -1)
        return old

    def _replace(self, node_id: bytes, new: MemberRecord) -> Change:
        old = self.get(node_id)
        if old is not None:
            self._account(old, -1)
        else:
            self._size += 1
            self._ids = None
        self._own[node_id] = new
        self._account(new, +1)
        return Change(old, new)

    def _account(self, record: MemberRecord, sign: int) -> None:
        self.view_hash ^= record.version_hash
        if record.rank < _LIVE_BELOW:
            self.live += sign
        elif sign > 0:
            self._down[record.node_id] = None
        else:
            self._down.pop(record.node_id, None)


_EMPTY = MemberTemplate(())
