"""Randomised round-robin choice of probe targets, and random picks of live members.

SWIM probes members in a random order, each once per pass, so a failed node is probed within one pass.
`ProbeOrder` shuffles lazily (an incremental Fisher-Yates): each pick swaps a random not-yet-probed entry
into the next slot, so a pass costs O(1) per probe. The id list a pass starts from is shared, not copied
(ten thousand simulated cores start from one template's ids): the shuffle writes only the slots it
changed, and members that join mid-pass, into a small overlay, so the permutation is exactly that of an
in-place shuffle of a private copy, at O(probes made) memory. New members are appended to the unshuffled
tail and still get probed this pass. Members to probe promptly (just reported suspect: probing them
ourselves gathers Lifeguard confirmations quickly) go first. `sample` picks random members by rejection
from the same permuted list, in O(k) expected time when most members are eligible. Eligible means live
(alive or suspect) and not this node, asked of the member table directly: compiled, that is a native
call, where a predicate passed in would go through Python's calling convention on every pick.
"""

from __future__ import annotations

from .config import Rng
from .membership import MemberRecord, Membership

__all__ = ["ProbeOrder"]


class ProbeOrder:
    """The probe schedule of one core."""

    __slots__ = ("_base", "_local", "_members", "_moved", "_next", "_priority", "_rng", "_size")

    def __init__(self, rng: Rng, members: Membership, local_id: bytes) -> None:
        self._rng = rng
        self._members = members
        self._local = local_id
        self._base = members.ids()  # read only: slots the shuffle changed live in _moved
        self._moved: dict[int, bytes] = {}
        self._size = len(self._base)
        self._next = 0
        self._priority: dict[bytes, None] = {}

    def _at(self, slot: int) -> bytes:
        node_id = self._moved.get(slot)
        return self._base[slot] if node_id is None else node_id

    def add(self, node_id: bytes) -> None:
        """A new member: it is probed later in the current pass."""
        self._moved[self._size] = node_id
        self._size += 1

    def prioritise(self, node_id: bytes) -> None:
        """Probe this member before continuing the pass."""
        self._priority[node_id] = None

    def _eligible(self, node_id: bytes) -> MemberRecord | None:
        """The member's record if it may be picked (live, not this node), else None."""
        return self._members.live_record(node_id) if node_id != self._local else None

    def next(self) -> bytes | None:
        """The next eligible member to probe; starts a new pass over the members when one ends."""
        while self._priority:
            node_id = next(iter(self._priority))
            del self._priority[node_id]
            if self._eligible(node_id) is not None:
                return node_id
        restarted = False
        while True:
            if self._next >= self._size:
                if restarted:
                    return None
                self._base = self._members.ids()
                self._moved = {}
                self._size = len(self._base)
                self._next = 0
                restarted = True
                continue
            i = self._next
            j = i + int(self._rng.random() * (self._size - i))
            picked = self._at(j)
            if j != i:
                self._moved[j] = self._at(i)
                self._moved[i] = picked
            self._next += 1
            if self._eligible(picked) is not None:
                return picked

    def sample(self, k: int, exclude: bytes = b"") -> list[str]:
        """The addresses of up to k distinct random eligible members other than `exclude` (gives up
        after 4k + 8 misses). Addresses, not ids: every caller sends to them, and the eligibility check
        has the member's record in hand."""
        size, moved, base, random = self._size, self._moved, self._base, self._rng.random
        picked: dict[bytes, str] = {}
        misses = 0
        while len(picked) < k and size and misses < 4 * k + 8:
            slot = int(random() * size)
            node_id = moved.get(slot) or base[slot]  # as _at(slot), inline on this hot path
            record = self._eligible(node_id) if node_id != exclude else None
            if record is not None and node_id not in picked:
                picked[node_id] = record.claim.address
            else:
                misses += 1
        return list(picked.values())
