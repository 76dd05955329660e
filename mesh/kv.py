"""The shared key-value map of one node: writes, checks on what arrives, anti-entropy and collection.

Writes are stamped by this node's hybrid logical clock, always above the stamp the replica holds for the
key, so a write made after reading a key supersedes what was read even if the reader's clock runs behind.
A register from elsewhere is installed only if its writer is admitted (a member we know, or a writer whose
certificate chain came with it), its signature checks, the node's policy accepts it (`Verifier.accepts`: auth records must chain to an
admin), its stamp is at most `hlc_max_drift` ahead of our
clock (refused, not adopted: a later anti-entropy round brings it once our clock catches up), and it is
newer than what we hold.

Tombstones and expired registers are collected once every member has synced past them, tracked as a
*horizon*: a node that initiated anti-entropy with a peer at wall time t and found their roots equal held
everything that peer held at t, and, transitively, everything the peer's own horizon covered. A node's
horizon is the least such t over its members; it is published as owned state (`HORIZON_KEY`). The
*floor* is the lowest horizon published by the members (0 for one that published none), and a register
stamped more than `kv_gc_margin` (an allowance for clock skew between writers) before it is held by
every member and can go. Registers older than `kv_tombstone_grace` go regardless, for a member that
never syncs.

A member that is away (dead, left or cut off; reaped or not) still counts until it has been away for
`kv_tombstone_grace`, as it may come back from its data dir: with its last sync time in the horizon, and
with the last horizon it published (0 if none was seen) in the floor. A node also caps the horizon it
publishes at those of the members it counts as away, so that members that never saw them (joined, or
restarted, since they went) wait for them too; such a member, first heard of as down, is left to the
others. A node with no member to count (a mesh of one, a member that has not found the others yet, or
one cut off from them past the grace) collects what it holds but neither advances nor publishes its
horizon.

What was collected stays collected. The *watermark* is the highest cutoff collection has used, capped at
the node's own horizon less the margin (below its horizon a replica holds whatever any member held, so
what it lacks there was collected); it never goes down, not even when a returning member lowers the
floor. A register stamped below the watermark for a key the replica does not hold is refused
(`kv_dropped_collected`). Digests carry their sender's watermark, and the node that receives one discards,
rather than sends, a register the digest lacks that is stamped below that watermark. So a member that
comes back after the grace brings nothing back: the others refuse its older registers of keys they no
longer hold (values of keys deleted meanwhile, and its writes from while it was away that no one else
holds), and the first anti-entropy round it initiates discards them on its side, after which the
replicas are identical.
"""

from __future__ import annotations

import builtins
import math
from collections.abc import Callable, Iterable

from .config import MeshConfig
from .counters import Counters
from .errors import ClockDriftExceeded, InvalidArgument
from .events import Event, KvChanged, KvPurged, KvWriterKnown
from .hlc import HLC, Timestamp
from .kvmap import KvMap, key_id, visible
from .kvsync import EQUAL, answer_digest, answer_hashes, offer, split_ids
from .messages import KvDigest, KvEntry, KvHashes, KvWant, KvWriter, Message
from .trust import Admissions, Credentials, sign_kv_batch

__all__ = ["HORIZON_KEY", "MAX_TTL", "KvReplica"]

HORIZON_KEY = "kv/horizon"
"""The owned-state key under which a node publishes its horizon (8 bytes, big-endian wall ms)."""
MAX_KEY_BYTES = 1024
MAX_TTL = 100 * 365 * 86400.0
"""Longest TTL in seconds (a hundred years): beyond it, just do not set one."""


class KvReplica:
    """One node's replica of the shared map (sans-IO: the core feeds it and sends what it returns)."""

    def __init__(
        self,
        config: MeshConfig,
        creds: Credentials,
        trust: Admissions,
        stats: Counters,
        emit: Callable[[Event], None],
    ) -> None:
        self.config = config
        self.map = KvMap()
        self.stats = stats
        self.horizon = 0
        self._creds = creds
        self._trust = trust
        self._emit = emit
        self._hlc = HLC(creds.node_id, int(config.hlc_max_drift * 1000))
        self._writers: dict[bytes, bytes] = {creds.node_id: creds.chain}
        self._offered: dict[str, int] = {}
        self._synced: dict[str, int] = {}
        self._floor = 0
        self.watermark = 0
        """Wall ms below which a register for a key not held here was collected (see the module docstring)."""

    # ---- local writes and reads -----------------------------------------------------------------

    def write(self, db: str, table: str, key: str, value: bytes | None, ttl: float | None, wall_ms: int) -> KvEntry:
        """A signed register for a put (or with None a delete); validated, not yet installed."""
        return self.sign([self.draft(db, table, key, value, ttl, wall_ms)])[0]

    def draft(self, db: str, table: str, key: str, value: bytes | None, ttl: float | None, wall_ms: int) -> KvEntry:
        """A validated, stamped register for a put (or with None a delete), not yet signed (see `sign`).
        Database and table names are the caller's to check (`micro.node.api.names`)."""
        if not isinstance(key, str) or not key:
            raise InvalidArgument("a key is a non-empty string")
        if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
            raise InvalidArgument(f"key is longer than {MAX_KEY_BYTES} bytes")
        if value is not None:
            if not isinstance(value, bytes):
                raise InvalidArgument("a value is bytes")
            if len(value) > self.config.kv_max_value:
                raise InvalidArgument(f"value of {len(value)} bytes is over the limit of {self.config.kv_max_value}")
        if ttl is not None and not (ttl > 0 and math.isfinite(ttl) and ttl <= MAX_TTL):
            raise InvalidArgument(f"a TTL must be a positive number of seconds, at most {MAX_TTL:.0f}")
        expire_at = wall_ms + max(1, int(ttl * 1000)) if ttl is not None and value is not None else 0
        stamp = self._hlc.now(wall_ms)
        held = self.map.get(key_id(db, table, key))
        if held is not None and (stamp.physical_ms, stamp.logical) <= (held.physical_ms, held.logical):
            stamp = self._hlc.update(Timestamp(held.physical_ms, held.logical, held.writer), wall_ms)
        return KvEntry(db, table, key, value, expire_at, stamp.physical_ms, stamp.logical, self._creds.node_id, b"")

    def sign(self, drafts: builtins.list[KvEntry]) -> builtins.list[KvEntry]:
        """`drafts` from `draft` signed, those of one call together (see `trust.sign_kv_batch`)."""
        return sign_kv_batch(self._creds, drafts)

    def publish(self, entry: KvEntry) -> bool:
        """Install a register this node wrote; False if a newer one arrived since `write`."""
        return self._install(key_id(entry.db, entry.table, entry.key), entry)

    def load(self, entries: Iterable[KvEntry], writers: Iterable[KvWriter], wall_ms: int) -> None:
        """Restore the replica from the node's storage (trusted: it was checked before it was stored)."""
        for writer in writers:
            self._writers[writer.node_id] = writer.chain
        for entry in entries:
            kid = key_id(entry.db, entry.table, entry.key)
            if self.map.newer(kid, entry):
                self.map.put(kid, entry)
        if len(self.map):
            top = max(self.map.entries(), key=lambda e: e.stamp)
            try:
                self._hlc.update(Timestamp(top.physical_ms, top.logical, top.writer), wall_ms)
            except ClockDriftExceeded:
                pass  # our clock went back: keep stamping from it; `write` still beats what it holds

    def get(self, db: str, table: str, key: str, wall_ms: int) -> KvEntry | None:
        entry = self.map.get(key_id(db, table, key))
        return entry if entry is not None and visible(entry, wall_ms) else None

    def list(
        self, db: str, table: str, prefix: str, wall_ms: int, limit: int = 0, offset: int = 0, reverse: bool = False
    ) -> list[KvEntry]:
        out: list[KvEntry] = []
        skipped = 0
        for kid in self.map.keys(db, table, prefix, reverse):
            entry = self.map.get(kid)
            if entry is None or not visible(entry, wall_ms):
                continue
            if skipped < offset:
                skipped += 1
                continue
            out.append(entry)
            if limit and len(out) >= limit:
                break
        return out

    def databases(self, wall_ms: int) -> builtins.list[str]:
        return sorted({db for db, table in self.map.tables() if self.list(db, table, "", wall_ms, limit=1)})

    def tables(self, db: str, wall_ms: int) -> builtins.list[str]:
        return sorted(t for d, t in self.map.tables() if d == db and self.list(d, t, "", wall_ms, limit=1))

    # ---- registers from other nodes -------------------------------------------------------------

    def admit_writer(self, writer: KvWriter) -> None:
        """A writer's chain that came with registers; kept if it leads to the mesh root."""
        if writer.node_id in self._writers or not self._trust.admit(writer.node_id, writer.chain):
            return
        self._writers[writer.node_id] = writer.chain
        self._emit(KvWriterKnown(writer))

    def know_member(self, node_id: bytes, chain: bytes) -> None:
        """An admitted member's chain (from its alive claim), so its registers are accepted."""
        if node_id not in self._writers:
            self._writers[node_id] = chain
            self._emit(KvWriterKnown(KvWriter(node_id, chain)))

    def receive(self, entry: KvEntry, wall_ms: int) -> str | None:
        """Check and install a remote register; returns None if installed, else why it was dropped
        (a core counter name)."""
        kid = key_id(entry.db, entry.table, entry.key)
        if not self.map.newer(kid, entry):
            return "dropped_stale"
        if entry.writer not in self._writers:
            return "dropped_unknown"  # anti-entropy brings it later with the writer's chain
        if entry.physical_ms - wall_ms > self._hlc.max_drift_ms:
            self.stats.kv_dropped_clock += 1
            return "dropped_stale"
        if entry.physical_ms < self.watermark and self.map.get(kid) is None:
            self.stats.kv_dropped_collected += 1
            return "dropped_stale"
        if not self._trust.kv_signed(entry):
            return "dropped_bad_signature"
        if not self._trust.accepts(entry, self.map.get(kid)):
            self.stats.kv_refused += 1
            return "dropped_unadmitted"
        self._hlc.update(Timestamp(entry.physical_ms, entry.logical, entry.writer), wall_ms)
        self._install(kid, entry)
        return None

    def _install(self, kid: bytes, entry: KvEntry) -> bool:
        if not self.map.newer(kid, entry):
            return False
        previous = self.map.put(kid, entry)
        self.stats.kv_applied += 1
        self._emit(KvChanged(entry, previous))
        return True

    # ---- anti-entropy ---------------------------------------------------------------------------

    def offer(self, address: str, wall_ms: int) -> KvHashes:
        """Start anti-entropy with the node at `address`."""
        self._offered[address] = wall_ms
        return offer(self.map, self.horizon)

    def on_hashes(self, address: str, message: KvHashes) -> builtins.list[Message] | None:
        """Answer one tree level; None if malformed."""
        if message.level == 0 and message.index == EQUAL:
            started = self._offered.pop(address, None)
            if started is not None and message.hashes == offer(self.map, 0).hashes:
                self.stats.kv_syncs_equal += 1
                self._synced[address] = max(self._synced.get(address, 0), started)
                self.horizon = max(self.horizon, message.horizon)
        return answer_hashes(self.map, message, self.horizon, self.watermark)

    def advance_horizon(self, peers: Iterable[str]) -> int:
        """Raise the horizon to the least sync time over `peers` (not empty), the addresses of the members
        collection waits for."""
        least = min(self._synced.get(a, 0) for a in peers)
        self.horizon = max(self.horizon, least)
        return self.horizon

    def on_digest(self, digest: KvDigest) -> builtins.list[Message] | None:
        answer = answer_digest(self.map, digest)
        if answer is None:
            return None
        send, discard, want = answer
        self._purge(discard)
        out = self.entries_for(send)
        if want is not None:
            out.append(want)
        return out

    def on_want(self, want: KvWant) -> builtins.list[Message] | None:
        ids = split_ids(want.key_ids)
        return None if ids is None else self.entries_for(ids)

    def entries_for(self, ids: Iterable[bytes]) -> builtins.list[Message]:
        """The registers held under `ids`, each writer's chain first so the receiver can admit it."""
        out: builtins.list[Message] = []
        writers: set[bytes] = set()
        for kid in ids:
            entry = self.map.get(kid)
            if entry is None:
                continue
            if entry.writer not in writers:
                writers.add(entry.writer)
                out.append(KvWriter(entry.writer, self._writers[entry.writer]))
            out.append(entry)
        return out

    # ---- collection -----------------------------------------------------------------------------

    def set_floor(self, floor: int) -> None:
        """The lowest horizon of the members collection waits for (see the module docstring)."""
        self._floor = floor

    def collect(self, wall_ms: int) -> int:
        """Remove tombstones and expired registers every member holds, and raise the watermark; returns how
        many were removed."""
        margin = int(self.config.kv_gc_margin * 1000)
        cutoff = max(self._floor - margin, wall_ms - int(self.config.kv_tombstone_grace * 1000))
        self.watermark = max(self.watermark, min(cutoff, self.horizon - margin))
        doomed = [e for e in self.map.mortal() if e.physical_ms < cutoff and not visible(e, wall_ms)]
        return self._purge([key_id(e.db, e.table, e.key) for e in doomed])

    def _purge(self, kids: builtins.list[bytes]) -> int:
        """Remove the registers held under `kids`, as collected."""
        gone: builtins.list[KvEntry] = []
        for kid in kids:
            entry = self.map.remove(kid)
            if entry is not None:
                gone.append(entry)
        if gone:
            self.stats.kv_purged += len(gone)
            self._emit(KvPurged(tuple(gone)))
        return len(gone)
