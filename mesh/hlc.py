"""Hybrid logical clock.

A timestamp is (physical milliseconds, logical counter, node id). `now` takes the later of the local
physical clock and the last stamp, bumping the counter when the physical clock has not moved; `update`
merges a remote stamp the same way, so causally later events always get larger stamps even across nodes
whose clocks disagree. A remote stamp more than `max_drift_ms` ahead of the local physical clock is
refused with `ClockDriftExceeded` (and the clock is left unchanged), so one node with a wild clock cannot
drag every other clock into the future. Ties between nodes break on the node id.
"""

from __future__ import annotations

from typing import NamedTuple

from .errors import ClockDriftExceeded

__all__ = ["HLC", "Timestamp"]


class Timestamp(NamedTuple):
    """An HLC stamp; tuples order them."""

    physical_ms: int
    logical: int
    node_id: bytes


class HLC:
    """The hybrid logical clock of one node."""

    __slots__ = ("_logical", "_physical", "max_drift_ms", "node_id")

    def __init__(self, node_id: bytes, max_drift_ms: int = 300_000) -> None:
        self.node_id = node_id
        self.max_drift_ms = max_drift_ms
        self._physical = 0
        self._logical = 0

    def now(self, physical_ms: int) -> Timestamp:
        """A stamp for a local event at physical time `physical_ms`."""
        if physical_ms > self._physical:
            self._physical, self._logical = physical_ms, 0
        else:
            self._logical += 1
        return Timestamp(self._physical, self._logical, self.node_id)

    def update(self, remote: Timestamp, physical_ms: int) -> Timestamp:
        """Merge a received stamp; raises `ClockDriftExceeded` if it is too far in the future."""
        if remote.physical_ms - physical_ms > self.max_drift_ms:
            raise ClockDriftExceeded(
                f"remote clock is {remote.physical_ms - physical_ms} ms ahead (limit {self.max_drift_ms} ms)"
            )
        top = max(physical_ms, self._physical, remote.physical_ms)
        if top == self._physical == remote.physical_ms:
            logical = max(self._logical, remote.logical) + 1
        elif top == self._physical:
            logical = self._logical + 1
        elif top == remote.physical_ms:
            logical = remote.logical + 1
        else:
            logical = 0
        self._physical, self._logical = top, logical
        return Timestamp(top, logical, self.node_id)
