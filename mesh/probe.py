"""Randomised round-robin choice of probe targets, and random picks of live members.

SWIM probes members in a random order, each once per pass, so a failed node is probed within one pass.
`ProbeOrder` shuffles lazily (an incremental Fisher-Yates): each pick swaps a random not-yet-probed entry
into the next slot, so a pass costs O(1) per probe plus one O(N) copy of the id list when it starts, and
members that join mid-pass are appended to the unshuffled tail and still get probed this pass. Members to
probe promptly (just reported suspect: probing them ourselves gathers Lifeguard confirmations quickly)
go first. `sample` picks random members by rejection from the same list, in O(k) expected time when most
members are eligible.
"""

from __future__ import annotations

from collections.abc import Callable

from .config import Rng

__all__ = ["ProbeOrder"]


class ProbeOrder:
    """The probe schedule of one core."""

    __slots__ = ("_ids", "_next", "_priority", "_rng")

    def __init__(self, rng: Rng, ids: list[bytes]) -> None:
        self._rng = rng
        self._ids = ids
        self._next = 0
        self._priority: dict[bytes, None] = {}

    def add(self, node_id: bytes) -> None:
        """A new member: it is probed later in the current pass."""
        self._ids.append(node_id)

    def prioritise(self, node_id: bytes) -> None:
        """Probe this member before continuing the pass."""
        self._priority[node_id] = None

    def next(self, eligible: Callable[[bytes], bool], refill: Callable[[], list[bytes]]) -> bytes | None:
        """The next eligible member to probe; starts a new pass (`refill`) when one ends."""
        while self._priority:
            node_id = next(iter(self._priority))
            del self._priority[node_id]
            if eligible(node_id):
                return node_id
        restarted = False
        while True:
            if self._next >= len(self._ids):
                if restarted:
                    return None
                self._ids = refill()
                self._next = 0
                restarted = True
                continue
            i = self._next
            j = i + int(self._rng.random() * (len(self._ids) - i))
            ids = self._ids
            ids[i], ids[j] = ids[j], ids[i]
            self._next += 1
            if eligible(ids[i]):
                return ids[i]

    def sample(self, k: int, eligible: Callable[[bytes], bool]) -> list[bytes]:
        """Up to k distinct random eligible members (gives up after 4k + 8 misses)."""
        ids = self._ids
        picked: dict[bytes, None] = {}
        misses = 0
        while len(picked) < k and ids and misses < 4 * k + 8:
            node_id = ids[int(self._rng.random() * len(ids))]
            if node_id not in picked and eligible(node_id):
                picked[node_id] = None
            else:
                misses += 1
        return list(picked)
