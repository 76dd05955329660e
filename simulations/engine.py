"""The simulation engine: many real `MeshCore`s on one virtual clock, joined by a `NetworkModel`.

Everything that will happen sits in one agenda (`agenda.Agenda`) of plain tuples `(time, seq, kind,
node, payload)`; `seq` is a running counter, so ties break in the order things were scheduled and a run
repeats exactly. The engine pops the earliest entry and hands it to the core it names: a datagram or peer-link packet to
`receive`, a timer to `handle_timer`, or a scheduled action (crash, restart, leave, a local write, a
packet injected by a test). After every call into a core it drains that core: each outgoing packet is
counted (its CBOR size plus the wire's frame overhead, without encrypting anything) and,
unless the network model drops it, pushed onto the agenda for its receiver after a latency draw; each event
goes to the observer; and the core's single timer is looked at again. A timer entry carries the deadline
it was pushed for, so a stale entry (the core since moved its timer, or the node crashed) is recognised
and skipped when popped instead of being searched for and removed. A core's deadline moves later far
more often than earlier (an ack cancels a probe timeout, say), so a new entry is pushed only when the
deadline comes before the node's earliest queued entry; when that entry pops stale, it is pushed again
for the deadline of that moment. This halves the agenda's traffic without changing when any timer fires.
The cyclic garbage collector is paused (`collector_paused`) while the cores are built, while `run_until`
runs and while the scenario reports: the only reference cycles a run makes are each installed claim or
statement with the member record it keeps (a few hundred pairs, which live as long as the tables do),
yet the records, messages and heap entries a run allocates set off collections whose cost grows with
everything still alive, over a fifth of the run time at 5,000 nodes.

Each core sees its own clock, `virtual time + skew` from the network model, and has its own
`random.Random` derived from the seed, the node index and its generation. A "converged" start gives every
core the same list of alive claims (built once, shared by all) as `known`; a "join" start lets each node
start alone and contact a few seeds.
"""

from __future__ import annotations

import gc
import itertools
import random
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Protocol

from ..mesh.codec import encoded_size
from ..mesh.config import MeshConfig
from ..mesh.core import MeshCore, Outgoing
from ..mesh.membership import MemberTemplate
from ..mesh.messages import KvEntry, Message
from ..mesh.trust import sign_alive
from ..mesh.wire import FRAME_OVERHEAD
from .agenda import Agenda, VirtualClock
from .crypto import SimCredentials, SimRegistry, SimVerifier
from .network import NetworkModel

__all__ = [
    "CRASHED",
    "LEFT",
    "PACKET_OVERHEAD",
    "UP",
    "WALL_EPOCH",
    "Observer",
    "Simulation",
    "collector_paused",
    "frame_size",
    "node_address",
]

PACKET_OVERHEAD = FRAME_OVERHEAD
"""Bytes a sealed frame adds to the encoded messages (version byte, keyring box, wire header), taken at
the wire's upper bound, so byte counts err on the high side by at most a dozen bytes per packet."""

WALL_EPOCH = 1_700_000_000.0
"""Wall-clock seconds at virtual time 0 (the cores' hybrid logical clocks start here, plus each skew)."""

UP, CRASHED, LEFT = 0, 1, 2
"""Node status values in `Simulation.status`."""

_TIMER, _DELIVER, _ACTION = 0, 1, 2

_SLOT_WIDTH = 0.0001
"""Seconds of virtual time per agenda slot: some tens of entries each at 10,000 nodes, so that few
packets (LAN latencies are a fraction of a millisecond) land in the slot being run, where each is an
insertion into a sorted list (1 ms slots ran about 8% slower at 4,000 nodes; at 10,000 the two
were within this machine's noise)."""

_NOTHING_QUEUED = -1.0

class Observer(Protocol):
    """What the engine reports to while it runs (see `metrics.Recorder`)."""

    def on_event(self, node: int, t: float, event: object) -> None:
        """`node`'s core produced `event` at virtual time `t`."""

    def on_status(self, node: int, t: float, status: int) -> None:
        """`node` became UP, CRASHED or LEFT at virtual time `t`."""


def frame_size(messages: Sequence[Message]) -> int:
    """Bytes of the sealed frame carrying `messages`: `encoded_size` plus `PACKET_OVERHEAD` (each message
    is encoded once, however many frames carry it: see `codec.encode_one`)."""
    return encoded_size(messages) + PACKET_OVERHEAD


@contextmanager
def collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for the block: simulations make almost no reference cycles, and
    collections among millions of live cores' objects would only rescan them (see the module docstring)."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            # What was allocated meanwhile sits in the youngest generation, which the next collection
            # scans whole (seconds, at 10,000 nodes); freeze then unfreeze moves it all to the oldest
            # generation without a scan, where a full collection still reaches it.
            gc.freeze()
            gc.unfreeze()
            gc.enable()


def node_address(index: int) -> str:
    """The "host:port" address simulated node `index` has: 10.x.y.z:7946."""
    return f"10.{(index >> 16) & 255}.{(index >> 8) & 255}.{index & 255}:7946"


class Simulation:
    """`nodes` simulated mesh nodes, started converged or joining, driven on a virtual clock."""

    def __init__(
        self,
        nodes: int,
        config: MeshConfig,
        network: NetworkModel,
        seed: int,
        *,
        start: str = "converged",
        join_seeds: int = 3,
        join_spread: float = 2.0,
        observer: Observer | None = None,
    ) -> None:
        """Build the cores (nothing runs until `run_until`).

        `start="converged"`: every core starts at time 0 knowing all the others from one shared snapshot
        of alive claims. `start="join"`: node i starts alone at time `i * join_spread / nodes` and joins up
        to `join_seeds` of the nodes started before it (node 0 starts alone and waits).
        """
        if start not in ("converged", "join"):
            raise ValueError(f"start must be 'converged' or 'join', got {start!r}")
        if network.nodes != nodes:
            raise ValueError(f"network model is for {network.nodes} nodes, simulation has {nodes}")
        self.config = config
        self.network = network
        self.seed = seed
        self.clock = VirtualClock(WALL_EPOCH)
        self.registry = SimRegistry(seed)
        self.verifier: SimVerifier = self.registry.verifier(self.clock)
        self.credentials: list[SimCredentials] = [self.registry.enroll(i) for i in range(nodes)]
        self.node_ids: list[bytes] = [c.node_id for c in self.credentials]
        self.addresses: list[str] = [node_address(i) for i in range(nodes)]
        self.index_of_address: dict[str, int] = {a: i for i, a in enumerate(self.addresses)}
        self.index_of_id: dict[bytes, int] = {n: i for i, n in enumerate(self.node_ids)}
        self.generations: list[int] = [1] * nodes
        self.cores: list[MeshCore | None] = [None] * nodes
        self.status: list[int] = [CRASHED] * nodes
        self.up_since: list[float] = [0.0] * nodes
        self._uptime: list[float] = [0.0] * nodes
        self.bytes_sent: list[int] = [0] * nodes
        self.reliable_bytes = 0
        """Bytes of all nodes sent over peer links (push-pull and anything too big for a datagram)."""
        self.packets_sent = 0
        self.packets_dropped = 0
        self.observer = observer
        self._deadline: list[float | None] = [None] * nodes
        """Each core's timer deadline as last read (None: no timer, or it is being handled)."""
        self._queued: list[float] = [_NOTHING_QUEUED] * nodes
        """When each node's earliest queued timer entry pops (`_NOTHING_QUEUED`: none known)."""
        self._agenda = Agenda(_SLOT_WIDTH)
        self._seq = itertools.count()
        if start == "converged":
            known = self._snapshot()
            with collector_paused():
                for i in range(nodes):
                    self._start(i, 0.0, known)
        else:
            for i in range(nodes):
                at = i * join_spread / nodes
                seeds = self.addresses[max(0, i - join_seeds):i] if i else []
                self.at(at, self._start_and_join, i, seeds)

    # -- scheduling -------------------------------------------------------------------------------------

    def at(self, t: float, action: Callable[..., None], *args: Any) -> None:
        """Run `action(t, *args)` at virtual time `t` (actions at the same time run in call order)."""
        self._agenda.push((t, next(self._seq), _ACTION, -1, (action, args)))

    def crash(self, node: int, at: float) -> None:
        """Stop `node` without a word at time `at`; packets to it are lost from then on."""
        self.at(at, self._crash, node)

    def restart(self, node: int, at: float, seeds: Sequence[int] = ()) -> None:
        """Start `node` again at `at` with the next generation, alone, joining `seeds` (node indices)."""
        self.at(at, self._restart, node, tuple(seeds))

    def leave(self, node: int, at: float, linger: float = 1.0) -> None:
        """Have `node` leave gracefully at `at` and stop `linger` seconds later."""
        self.at(at, self._leave, node, linger)

    def set_local(self, node: int, key: str, value: bytes | None, at: float) -> None:
        """Write `key` into `node`'s node-owned state at time `at` (skipped if the node is down then)."""
        self.at(at, self._set_local, node, key, value)

    def kv_put(self, node: int, key: str, value: bytes | None, at: float,
               acked: Callable[[KvEntry], None] | None = None, db: str = "sim", table: str = "kv") -> None:
        """Write `key` in the shared map through `node` at `at` (skipped if the node is down then);
        `acked` gets the register once it is installed, as a node would acknowledge it."""
        self.at(at, self._kv_put, node, db, table, key, value, acked)

    def deliver(self, node: int, source: str, messages: Sequence[object], at: float,
                reliable: bool = False) -> None:
        """Hand `messages` to `node` at `at` as if `source` had sent them (for injecting hostile input)."""
        self._agenda.push((at, next(self._seq), _DELIVER, node, (source, list(messages), reliable)))

    def partition(self, groups: Sequence[Sequence[int]], start: float, end: float) -> None:
        """Cut `groups` of nodes off from each other between `start` and `end`."""
        self.network.partition(groups, start, end)

    # -- running ----------------------------------------------------------------------------------------

    def run_until(self, end: float) -> None:
        """Process everything scheduled up to and including virtual time `end`."""
        with collector_paused():
            self._run(end)
        self.clock.now = end

    def _run(self, end: float) -> None:
        """The event loop: pop, hand to the core, flush the core."""
        # Methods are called through the objects, not cached in locals: compiled, those are native calls
        # (a cached bound method goes through Python's calling convention).
        agenda = self._agenda
        cores = self.cores
        deadlines = self._deadline
        queued = self._queued
        skew = self.network.skew
        clock = self.clock
        while True:
            entry = agenda.pop_until(end)
            if entry is None:
                break
            t, _, kind, node, payload = entry
            clock.now = t
            if kind == _DELIVER:
                core = cores[node]
                if core is None:
                    continue
                core.receive(payload[0], payload[1], t + skew[node], payload[2])
            elif kind == _TIMER:
                core = cores[node]
                if core is None:
                    continue
                if queued[node] == t:
                    queued[node] = _NOTHING_QUEUED
                deadline = deadlines[node]
                if deadline != payload:
                    if deadline is not None and queued[node] == _NOTHING_QUEUED:
                        self._queue_timer(node, t, deadline)
                    continue
                deadlines[node] = None
                core.handle_timer(t + skew[node])
            else:
                action, args = payload
                action(t, *args)
                continue
            self._flush(node, t)

    @property
    def now(self) -> float:
        """The virtual time: that of the entry being run, or where the last `run_until` stopped."""
        return self.clock.now

    def live(self) -> list[int]:
        """Indices of the nodes that are up now."""
        return [i for i, s in enumerate(self.status) if s == UP]

    def node_seconds(self, t: float) -> float:
        """Seconds all nodes together have been up, counted up to virtual time `t`."""
        total = sum(self._uptime)
        for i, s in enumerate(self.status):
            if s == UP:
                total += t - self.up_since[i]
        return total

    def core_now(self, node: int) -> float:
        """The clock `node`'s core sees at the current virtual time."""
        return self.now + self.network.skew[node]

    # -- internals --------------------------------------------------------------------------------------

    def _snapshot(self) -> MemberTemplate:
        """One alive claim per node, built once into a template every core shares as `known`."""
        return MemberTemplate(
            sign_alive(self.credentials[i], self.addresses[i], self.generations[i], 0)
            for i in range(len(self.credentials))
        )

    def _make_core(self, node: int, t: float, known: MemberTemplate | tuple[()]) -> MeshCore:
        generation = self.generations[node]
        rng = random.Random(f"core:{self.seed}:{node}:{generation}")
        return MeshCore(self.config, self.credentials[node], self.verifier, address=self.addresses[node],
                        generation=generation, rng=rng, now=t + self.network.skew[node], known=known,
                        wall_offset=WALL_EPOCH)

    def _set_status(self, node: int, t: float, status: int) -> None:
        if self.status[node] == UP and status != UP:
            self._uptime[node] += t - self.up_since[node]
        self.status[node] = status
        if status == UP:
            self.up_since[node] = t
        if self.observer is not None:
            self.observer.on_status(node, t, status)

    def _start(self, node: int, t: float, known: MemberTemplate | tuple[()]) -> None:
        self.cores[node] = self._make_core(node, t, known)
        self._set_status(node, t, UP)
        self._flush(node, t)

    def _start_and_join(self, t: float, node: int, seeds: list[str]) -> None:
        self._start(node, t, ())
        core = self.cores[node]
        if seeds and core is not None:
            core.join(seeds, t + self.network.skew[node])
            self._flush(node, t)

    def _crash(self, t: float, node: int) -> None:
        if self.status[node] != UP:
            return
        self.cores[node] = None
        self._deadline[node] = None
        self._queued[node] = _NOTHING_QUEUED
        self._set_status(node, t, CRASHED)

    def _restart(self, t: float, node: int, seeds: tuple[int, ...]) -> None:
        if self.status[node] == UP:
            self._crash(t, node)
        self.generations[node] += 1
        self._start_and_join(t, node, [self.addresses[s] for s in seeds if s != node])

    def _leave(self, t: float, node: int, linger: float) -> None:
        core = self.cores[node]
        if core is None:
            return
        core.leave(t + self.network.skew[node])
        self._flush(node, t)
        self.at(t + linger, self._stop, node)

    def _stop(self, t: float, node: int) -> None:
        if self.cores[node] is None:
            return
        self.cores[node] = None
        self._deadline[node] = None
        self._queued[node] = _NOTHING_QUEUED
        self._set_status(node, t, LEFT)

    def _set_local(self, t: float, node: int, key: str, value: bytes | None) -> None:
        core = self.cores[node]
        if core is None:
            return
        core.set_local(key, value, t + self.network.skew[node])
        self._flush(node, t)

    def _kv_put(self, t: float, node: int, db: str, table: str, key: str, value: bytes | None,
                acked: Callable[[KvEntry], None] | None) -> None:
        core = self.cores[node]
        if core is None:
            return
        now = t + self.network.skew[node]
        entry = core.kv_write(db, table, key, value, None, now)
        core.kv_publish(entry, now)
        if acked is not None:
            acked(entry)
        self._flush(node, t)

    def _flush(self, node: int, t: float) -> None:
        """Send what `node`'s core wants sent, pass on its events, and keep its one timer current."""
        core = self.cores[node]
        if core is None:
            return
        packets = core.packets_to_send()
        if packets:
            self._send(node, t, packets)
        event = core.next_event()
        if event is not None:
            observer = self.observer
            while event is not None:
                if observer is not None:
                    observer.on_event(node, t, event)
                event = core.next_event()
        deadline = core.get_timer()
        if deadline != self._deadline[node]:
            self._deadline[node] = deadline
            if deadline is not None:
                queued = self._queued[node]
                if queued == _NOTHING_QUEUED or deadline - self.network.skew[node] < queued:
                    self._queue_timer(node, t, deadline)

    def _queue_timer(self, node: int, t: float, deadline: float) -> None:
        """Push a timer entry for `node`'s core `deadline` (its own clock), late if the node is slow."""
        network = self.network
        fire = max(t, deadline - network.skew[node] + network.timer_lateness(node))
        self._agenda.push((fire, next(self._seq), _TIMER, node, deadline))
        self._queued[node] = fire

    def _send(self, node: int, t: float, packets: list[Outgoing]) -> None:
        """Count `node`'s packets and put those the network delivers on the heap."""
        network = self.network
        agenda = self._agenda
        seq = self._seq
        source = self.addresses[node]
        index_of = self.index_of_address
        sent = reliable = dropped = 0
        for out in packets:
            messages = out.messages
            size = frame_size(messages)
            sent += size
            if out.reliable:
                reliable += size
            dst = index_of.get(out.address)
            if dst is None:
                dropped += 1
                continue
            if out.reliable:
                delay = network.reliable_delay(node, dst, t)
            else:
                delay = network.datagram_delay(node, dst, t)
            if delay is None:
                dropped += 1
                continue
            agenda.push((t + delay, next(seq), _DELIVER, dst, (source, messages, out.reliable)))
        self.bytes_sent[node] += sent
        self.reliable_bytes += reliable
        self.packets_sent += len(packets)
        self.packets_dropped += dropped
