"""The core's counters: what it did and what it dropped (the node shows them in `micro node status`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Counters"]


@dataclass(slots=True)
class Counters:
    """Plain integer counters of what the core did and dropped."""

    received: int = 0
    dropped_bad_signature: int = 0
    dropped_unadmitted: int = 0
    dropped_revoked: int = 0
    """Alive claims of members whose key was revoked (`MeshCore.revoke`)."""
    dropped_stale: int = 0
    dropped_unknown: int = 0
    dropped_misdirected: int = 0
    probes: int = 0
    probes_failed: int = 0
    indirect_probes: int = 0
    refutations: int = 0
    gossip_datagrams: int = 0
    push_pulls: int = 0
    reconnects: int = 0
    dropped_malformed: int = 0
    kv_applied: int = 0
    kv_dropped_clock: int = 0
    kv_dropped_collected: int = 0
    kv_refused: int = 0
    kv_purged: int = 0
    kv_syncs_equal: int = 0
