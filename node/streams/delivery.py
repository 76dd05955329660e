"""The sans-IO core of a stream consumer: which partitions it owns, and what it has in flight.

`assign` gives each partition (an origin log) of a topic to one consumer of a group by rendezvous
hashing: the consumer with the highest hash of (consumer, partition) wins, so every node that knows the
same consumers computes the same owners, and a consumer that comes or goes moves only its share.

`Delivery` tracks one consumer's deliveries, driven by explicit `now` (no clock, no IO): per partition the
next offset to read, and the events sent but not yet acked, each with its attempt and redelivery deadline.
An ack removes an event; a nack makes it due at once; `due(now)` hands back what is due again (attempt
+1) and what has used up its deliveries (for the dead-letter topic; the caller acks it once there). The
committed offset of a partition is the last offset before its oldest unacked event, so a consumer that
takes the partition over starts after what was acked in order, and nothing unacked is lost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import heapq
import math
from collections.abc import Iterable
from typing import Generic, TypeVar

__all__ = ["Delivery", "Due", "assign"]

E = TypeVar("E")


def _score(consumer: str, partition: str) -> tuple[int, str]:
    digest = hashlib.blake2b(f"{consumer}\0{partition}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big"), consumer


def assign(consumers: Iterable[str], partitions: Iterable[str]) -> dict[str, str]:
    """Partition -> its consumer (rendezvous hashing); empty when there are no consumers."""
    members = sorted(set(consumers))
    if not members:
        return {}
    return {p: max(members, key=lambda c: _score(c, p)) for p in partitions}


@dataclasses.dataclass
class _InFlight(Generic[E]):
    event: E
    attempt: int
    deadline: float
    size: int


@dataclasses.dataclass(frozen=True)
class Due(Generic[E]):
    """An event to send again (`attempt` is the new one), or one that failed `attempt` deliveries."""

    origin: str
    offset: int
    event: E
    attempt: int


class Delivery(Generic[E]):
    """One consumer's assigned partitions and unacked events: at most `max_in_flight` of them and, beyond
    the first, `max_bytes` of their sizes (they are kept for redelivery). `auto_ack`: done when sent."""

    def __init__(self, ack_wait: float, max_retries: int, max_in_flight: int, auto_ack: bool = False,
                 max_bytes: int = 64 << 20) -> None:
        self.ack_wait = ack_wait
        self.max_retries = max_retries
        self.max_in_flight = max_in_flight
        self.max_bytes = max_bytes
        self.auto_ack = auto_ack
        self._bytes = 0
        self._next: dict[str, int] = {}  # origin -> next offset to read
        self._pending: dict[str, dict[int, _InFlight[E]]] = {}  # origin -> offset -> in flight, in order
        self._count = 0
        self._deadlines: list[tuple[float, str, int]] = []  # a heap; stale entries skipped when popped
        self._reported: dict[str, int] = {}  # origin -> committed offset last returned by `commits`

    # ---- partitions ---------------------------------------------------------------------------------

    @property
    def partitions(self) -> set[str]:
        return set(self._next)

    def add_partition(self, origin: str, committed: int) -> None:
        """Own a partition whose events up to `committed` are done: reading starts after it."""
        if origin in self._next:
            return
        self._next[origin] = committed + 1
        self._pending[origin] = {}
        self._reported[origin] = committed

    def drop_partition(self, origin: str) -> None:
        """Stop delivering a partition: its unacked events are forgotten (its next owner redelivers them)."""
        self._next.pop(origin, None)
        self._reported.pop(origin, None)
        for entry in self._pending.pop(origin, {}).values():
            self._forget(entry)

    def position(self, origin: str) -> int:
        """The next offset to read of an owned partition."""
        return self._next[origin]

    @property
    def room(self) -> int:
        """Events that may be sent before more acks come."""
        if self._bytes >= self.max_bytes:
            return 0
        return max(0, self.max_in_flight - self._count)

    @property
    def in_flight(self) -> int:
        return self._count

    # ---- sending and acks ---------------------------------------------------------------------------

    def sent(self, origin: str, offset: int, event: E, now: float, size: int = 0, delivered: int = 0) -> bool:
        """An event read from an owned partition goes out as attempt `delivered` + 1 (`delivered`: deliveries
        an earlier owner of the partition made). False (not to be sent) for a partition no longer owned or
        an offset already passed (offsets skipped, no longer retained, count as done), and for an event
        already delivered `max_retries` times: that one is due at once, for the dead letters."""
        if origin not in self._next or offset < self._next[origin]:
            return False
        self._next[origin] = offset + 1
        if self.auto_ack:
            return True
        spent = delivered >= self.max_retries
        deadline = now if spent else now + self.ack_wait
        self._pending[origin][offset] = _InFlight(event, delivered if spent else delivered + 1, deadline, size)
        self._count += 1
        self._bytes += size
        heapq.heappush(self._deadlines, (deadline, origin, offset))
        return not spent

    def ack(self, origin: str, offset: int) -> bool:
        """Done with an event; False when it was not in flight (unknown, already acked, or moved away)."""
        entry = self._pending.get(origin, {}).pop(offset, None)
        if entry is None:
            return False
        self._forget(entry)
        return True

    def _forget(self, entry: _InFlight[E]) -> None:
        self._count -= 1
        self._bytes -= entry.size

    def nack(self, origin: str, offset: int, now: float) -> bool:
        """Send an event again now (as the next attempt); False when it was not in flight."""
        entry = self._pending.get(origin, {}).get(offset)
        if entry is None or entry.deadline == math.inf:  # unknown, or on its way to the dead letters
            return False
        entry.deadline = now
        heapq.heappush(self._deadlines, (now, origin, offset))
        return True

    def due(self, now: float) -> tuple[list[Due[E]], list[Due[E]]]:
        """Events to send again (their attempt raised, their deadline reset), and events that were sent
        `max_retries` times without an ack, both in deadline order. A dead one is never due again but
        stays in flight, holding back the committed offset, until the caller acks it (once it is in the
        dead-letter topic), so a consumer that stops first leaves it to the partition's next owner."""
        again: list[Due[E]] = []
        dead: list[Due[E]] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            deadline, origin, offset = heapq.heappop(self._deadlines)
            entry = self._pending.get(origin, {}).get(offset)
            if entry is None or entry.deadline != deadline:
                continue
            if entry.attempt >= self.max_retries:
                entry.deadline = math.inf
                dead.append(Due(origin, offset, entry.event, entry.attempt))
                continue
            entry.attempt += 1
            entry.deadline = now + self.ack_wait
            heapq.heappush(self._deadlines, (entry.deadline, origin, offset))
            again.append(Due(origin, offset, entry.event, entry.attempt))
        return again, dead

    def timer(self) -> float | None:
        """When `due` next has something (None: nothing in flight)."""
        while self._deadlines:
            deadline, origin, offset = self._deadlines[0]
            entry = self._pending.get(origin, {}).get(offset)
            if entry is not None and entry.deadline == deadline:
                return deadline
            heapq.heappop(self._deadlines)
        return None

    # ---- offsets ------------------------------------------------------------------------------------

    def committed(self, origin: str) -> int:
        """The last offset of an owned partition done in order: everything before its oldest unacked event."""
        pending = self._pending[origin]
        if pending:
            return next(iter(pending)) - 1
        return self._next[origin] - 1

    def commits(self) -> dict[str, int]:
        """Committed offsets that moved since the last call (origin -> offset), to be stored."""
        moved = {}
        for origin, reported in self._reported.items():
            now_committed = self.committed(origin)
            if now_committed != reported:
                moved[origin] = now_committed
        self._reported.update(moved)
        return moved
