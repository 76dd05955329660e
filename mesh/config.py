"""Settings of the mesh protocol, with presets.

`MeshConfig` is a frozen dataclass; every timing the core uses comes from it, so tests and the simulator
change behaviour through public settings only. Times are float seconds on the driver's monotonic scale.
`lan()` is tuned for a data centre network (and is what the simulator's targets are measured with),
`wan()` for links with hundreds of milliseconds of latency, `local()` for several processes on one
machine, where a killed node should be declared dead within one or two seconds.

`Rng` is the slice of `random.Random` the core uses; the driver passes a seeded instance so a run is
repeatable.
"""

from __future__ import annotations

from collections.abc import MutableSequence, Sequence
from dataclasses import dataclass, replace
from typing import Protocol, TypeVar

__all__ = ["MeshConfig", "Rng"]

_T = TypeVar("_T")


class Rng(Protocol):
    """The methods of `random.Random` the core calls (pass a seeded `random.Random`)."""

    def random(self) -> float: ...

    def choice(self, seq: Sequence[_T]) -> _T: ...

    def shuffle(self, x: MutableSequence[object]) -> None: ...

    def sample(self, population: Sequence[_T], k: int) -> list[_T]: ...

    def getrandbits(self, k: int) -> int: ...


@dataclass(frozen=True, slots=True)
class MeshConfig:
    """Protocol settings. The defaults are the `lan()` preset."""

    probe_interval: float = 1.0
    """Seconds between failure-detector probes (scaled up by the local health multiplier)."""
    probe_timeout: float = 0.5
    """Seconds to wait for a direct ack before asking `indirect_checks` members to probe (scaled too)."""
    indirect_checks: int = 3
    """How many members are asked to probe a target indirectly after a missed direct ack."""
    gossip_interval: float = 0.2
    """Seconds between gossip rounds while the broadcast queue holds rumours (none when it is empty)."""
    gossip_nodes: int = 3
    """Fan-out: random live members each gossip round sends a datagram to."""
    retransmit_mult: float = 1.3
    """Each rumour is sent ceil(retransmit_mult * ceil(log10(n + 1))) times (n = live members)."""
    rumour_memory: float = 3.0
    """Seconds a node remembers the rumours it learned, to repair peers whose pings show they missed one."""
    suspicion_mult: float = 0.75
    """Minimum suspicion timeout = suspicion_mult * max(1, log10(n)) * probe_interval."""
    suspicion_max_timeout_mult: float = 4.0
    """Maximum suspicion timeout (no confirmations yet) = this * the minimum."""
    suspicion_confirmations: int = 3
    """k: independent suspicions that shrink the timeout all the way to the minimum (capped at n - 2)."""
    awareness_max_multiplier: int = 8
    """Upper bound of the Lifeguard local health multiplier that scales probe interval and timeout."""
    push_pull_interval: float = 30.0
    """Seconds between anti-entropy exchanges with one random live member (scaled up beyond 32 nodes)."""
    reconnect_interval: float = 10.0
    """Seconds between push-pulls with one random dead or left member, so healed partitions merge."""
    dead_reap_time: float = 3600.0
    """Seconds after which a dead or left member (and its owned state) is forgotten."""
    max_datagram: int = 1400
    """Largest UDP datagram in bytes, framing included; bigger payloads go over a peer link."""
    max_reliable: int = 4 * 1024 * 1024
    """Largest peer-link frame in bytes; bigger sync deltas are split across frames."""
    hlc_max_drift: float = 300.0
    """Seconds a remote hybrid-logical-clock stamp may run ahead of the local clock before it is refused."""
    gossip_bulk: int = 256 * 1024
    """Bytes of queued key-value registers a gossip round also sends each target over a peer link when
    they did not fit its datagram (write bursts beyond what datagrams carry)."""
    kv_gossip_interval: float = 0.01
    """Seconds between gossip rounds of key-value registers while any are queued: a register goes at once
    when no round is due, and what arrives meanwhile shares the next (membership keeps `gossip_interval`)."""
    kv_sync_delay: float = 1.0
    """Seconds after a key-value change before comparing maps with `kv_sync_peers` random members."""
    kv_sync_peers: int = 2
    """Members a node compares its key-value map with after changes (besides periodic push-pull)."""
    kv_rumour_dbs: tuple[str, ...] = ("auth",)
    """Databases whose registers also spread as rumours (full retransmit budget and the pull repair on
    pings), so they reach every member within a dissemination time, not a map comparison: auth records."""
    kv_max_value: int = 1024 * 1024
    """Largest key-value value in bytes a node accepts for writing."""
    kv_tombstone_grace: float = 86400.0
    """Seconds after which tombstones and expired registers are collected even if a member never synced."""
    kv_gc_margin: float = 60.0
    """Seconds a register must predate every live member's sync horizon to be collected (clock skew)."""
    keyring_rotation_delay: float = 5.0
    """Seconds, about one dissemination time of a key-value register, between the steps of a gossip key
    rotation after a node revocation: every member adds the new key, uses it this long later (by then
    every member holds it), and removes the old one as long again later (by then nobody sends with it).
    The driver keeps this time; the core does not use it."""

    @classmethod
    def lan(cls) -> MeshConfig:
        """Data-centre settings: probe every 1 s (0.5 s timeout), gossip every 0.2 s to 3 peers."""
        return cls()

    @classmethod
    def wan(cls) -> MeshConfig:
        """Settings for high-latency links: slower probes, more patience before declaring a death."""
        return replace(
            cls(),
            probe_interval=5.0,
            probe_timeout=3.0,
            gossip_interval=0.5,
            gossip_nodes=4,
            retransmit_mult=4,
            suspicion_mult=2.0,
            suspicion_max_timeout_mult=6.0,
            rumour_memory=15.0,
            push_pull_interval=60.0,
            reconnect_interval=30.0,
            kv_sync_delay=3.0,
            keyring_rotation_delay=15.0,
        )

    @classmethod
    def local(cls) -> MeshConfig:
        """One machine, several processes: a killed node is declared dead within about 1-2 s."""
        return replace(
            cls(),
            probe_interval=0.2,
            probe_timeout=0.1,
            gossip_interval=0.05,
            rumour_memory=1.0,
            suspicion_mult=1.5,
            suspicion_max_timeout_mult=3.0,
            push_pull_interval=2.0,
            reconnect_interval=1.0,
            dead_reap_time=60.0,
            kv_gc_margin=1.0,
            kv_sync_delay=0.2,
            keyring_rotation_delay=2.0,
        )
