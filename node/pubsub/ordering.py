"""One sender's `PublishMany` calls applied in the order it made them, as NATS core keeps a publisher's
messages in order.

A client keeps several calls in flight, and the node may take them in another order than they were sent
(gRPC hands a call over once its whole request has arrived, so a small call can overtake a large one sent
before it). A client that wants its order kept numbers its calls (`sender`, a random id of its own, and
`sequence` 1, 2, 3...); `Sequencer.turn` holds a call that arrives before its predecessor until the
predecessor has been applied, or for at most `wait_s` (a predecessor lost on the way, whose call failed
at the client, must not stop the sender for good). A sender is known from its first call, which starts
at 1; senders are forgotten least recently used first, beyond `max_senders`, and one forgotten (or
first met after a restart of the node) with later calls than 1 has its next call held for the wait.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib

__all__ = ["MAX_SENDERS", "WAIT_S", "Sequencer"]

WAIT_S = 0.5
MAX_SENDERS = 4096


class _Sender:
    __slots__ = ("changed", "next")

    def __init__(self, first: int) -> None:
        self.next = first
        self.changed = asyncio.Event()


class Sequencer:
    """Where each sender's calls are up to (the asyncio part: holding a call that came early)."""

    def __init__(self, wait_s: float = WAIT_S, max_senders: int = MAX_SENDERS) -> None:
        self._wait_s = wait_s
        self._max = max_senders
        self._senders: collections.OrderedDict[bytes, _Sender] = collections.OrderedDict()
        self.overtaken = 0
        """Calls that arrived before their predecessor and were held."""
        self.gave_up = 0
        """Calls applied without their predecessor, after `wait_s`."""

    async def turn(self, sender: bytes, sequence: int) -> None:
        """Return when call `sequence` of `sender` may be applied: once every earlier one has been, or
        after `wait_s`. Call `done` after applying it."""
        state = self._senders.get(sender)
        if state is None:
            state = self._senders[sender] = _Sender(1)
            while len(self._senders) > self._max:
                self._senders.popitem(last=False)
        else:
            self._senders.move_to_end(sender)
        if sequence <= state.next:
            return
        self.overtaken += 1
        deadline = asyncio.get_running_loop().time() + self._wait_s
        while sequence > state.next:
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                self.gave_up += 1
                return
            state.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(state.changed.wait(), left)

    def done(self, sender: bytes, sequence: int) -> None:
        """Call `sequence` of `sender` has been applied: the next may go."""
        state = self._senders.get(sender)
        if state is not None and sequence >= state.next:
            state.next = sequence + 1
            state.changed.set()
