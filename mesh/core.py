"""`MeshCore`: the sans-IO mesh protocol engine, the one object drivers use.

The driver feeds it received messages (`receive`) and timer expiries (`handle_timer`), always with the
current time; it takes out packets (`packets_to_send`), events (`next_event`) and the one deadline to
wake up for (`get_timer`). Nothing here reads a clock, a socket or global randomness.

Each probe period the core pings the next member of its randomised round-robin (piggybacking the
suspicion first if the target is suspected, Lifeguard's buddy system); without an ack by the probe
timeout it asks `indirect_checks` members to ping it for it; without any ack by the end of the period it
suspects it. Suspicions expire after a Lifeguard dynamic timeout, shortened by confirmations from other
accusers, and the member is declared dead. Every accepted change is a rumour in the broadcast queue,
piggybacked on probe traffic and gossiped to `gossip_nodes` random live members every `gossip_interval`
while the queue is non-empty (a node that learns something new gossips at once, so rumours spread at
network speed). Push-pull anti-entropy with a random live member, and with a random dead or left member
every `reconnect_interval`, repairs lost rumours and merges healed partitions. A member whose key the
node's auth revoked (`revoke`) is declared dead and refused admission from then on. The state transitions
themselves live in `membership.py`; signature and admission checks in `trust.py`.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Hashable, Iterable, Mapping
from typing import Any, cast

from . import codec
from .awareness import Awareness
from .broadcast import BroadcastQueue, RecentRumours
from .config import MeshConfig, Rng
from .counters import Counters
from .errors import InvalidArgument
from .events import (
    Event,
    Member,
    MemberFailed,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MemberSuspected,
    MemberUpdated,
    OwnedStateChanged,
)
from .kv import HORIZON_KEY, KvReplica
from .membership import (
    RANK,
    Change,
    MemberRecord,
    Membership,
    MemberState,
    MemberTemplate,
    Statement,
    Verdict,
)
from .messages import (
    Ack,
    Alive,
    Dead,
    IndirectPing,
    KvDigest,
    KvEntry,
    KvHashes,
    KvWant,
    KvWriter,
    Leave,
    Message,
    Nack,
    Owned,
    Ping,
    Suspect,
    Sync,
)
from .owned import OwnedStore
from .probe import ProbeOrder
from .suspicion import Suspicion, suspicion_bounds
from .sync import delta, digest, push_pull_interval, view_hash
from .timers import KEYED, NOTHING_DUE, Deadlines
from .trust import Admissions, Credentials, Verifier, sign_alive, sign_leave, sign_owned
from .wire import FRAME_OVERHEAD

__all__ = ["Counters", "MeshCore", "Outgoing"]

_DOWN = RANK[MemberState.DEAD]
# The named deadlines (slots of `Deadlines`); suspicions and relays are keyed ones.
_PROBE, _PROBE_TIMEOUT, _GOSSIP, _PUSH_PULL, _RECONNECT, _KV_SYNC, _KV_GOSSIP, _REAP = range(8)
_NAMED_DEADLINES = 8
_KV_SYNC_MAX_WAIT = 3  # settle-time comparisons wait for quiet at most this many kv_sync_delays
_SUSPECT, _RELAY = "suspect", "relay"
_LIST_SLACK = 5  # bytes a message-list header may take
_NACK_FRACTION = 0.8  # of the prober's indirect window, as in Lifeguard
_PROMPT_PROBERS = 2  # expected prompt probers of a new suspect, per expected confirmation


class Outgoing:
    """Messages for one peer: one UDP datagram, or (reliable) one peer-link frame."""

    # A plain class rather than a dataclass: compiled, its __init__ is native (a dataclass's generated
    # __init__ stays interpreted), and every gossip round builds a few.
    __slots__ = ("address", "messages", "reliable")

    def __init__(self, address: str, messages: tuple[Message, ...], reliable: bool) -> None:
        self.address = address
        self.messages = messages
        self.reliable = reliable

    def __repr__(self) -> str:
        return f"Outgoing({self.address!r}, {self.messages!r}, reliable={self.reliable})"


class _Probe:
    __slots__ = ("acked", "expected_nacks", "nacks", "seq", "target")

    def __init__(self, target: bytes, seq: int) -> None:
        self.target = target
        self.seq = seq
        self.acked = False
        self.expected_nacks = 0
        self.nacks = 0


class _Relay:
    __slots__ = ("requester", "seq")

    def __init__(self, requester: str, seq: int) -> None:
        self.requester = requester
        self.seq = seq


class MeshCore:
    """The mesh protocol state machine of one node life (one generation)."""

    def __init__(
        self,
        config: MeshConfig,
        creds: Credentials,
        verifier: Verifier,
        address: str,
        generation: int,
        rng: Rng,
        now: float,
        known: Iterable[Alive] | MemberTemplate = (),
        wall_offset: float = 0.0,
    ) -> None:
        self.config = config
        self.wall_offset = wall_offset
        self.address = address
        self.generation = generation
        self.local_id = creds.node_id
        self.stats = Counters()
        self._creds = creds
        self._trust = Admissions(verifier)
        self._rng = rng
        self._members = Membership(known if isinstance(known, MemberTemplate) else MemberTemplate(known))
        self._owned = OwnedStore()
        self._queue = BroadcastQueue(config.retransmit_mult)
        # Key-value registers queue apart: a write burst must not delay membership rumours, and what
        # does not fit the datagrams goes over peer links (`gossip_bulk`).
        # Each register is sent at least `gossip_nodes` times, so in a mesh no larger than the fan-out the
        # writer's first round reaches every member and nobody need forward it (see `_on_kv_entry`).
        self._kv_queue = BroadcastQueue(config.retransmit_mult, floor=config.gossip_nodes)
        self._recent = RecentRumours(config.rumour_memory)
        self._awareness = Awareness(config.awareness_max_multiplier)
        self._timers = Deadlines(_NAMED_DEADLINES)
        self._probes = ProbeOrder(rng, self._members, self.local_id)
        self._probe: _Probe | None = None
        self._pending: dict[int, _Probe | _Relay] = {}
        self._suspicions: dict[bytes, Suspicion] = {}
        self._reaps: deque[tuple[float, MemberRecord]] = deque()
        """Down members' records with when to forget them, in that order (see `_queue_reap`)."""
        self._gone: dict[bytes, tuple[float, MemberRecord]] = {}
        """Reaped members collection still waits for, with when they went down (see `_away`)."""
        self._kv_horizons: dict[bytes, int] = {}
        """The last horizon published by each member that is away (its owned state is dropped)."""
        self._kv_unseen: set[bytes] = set()
        """Members first heard of as down: collection leaves them to those that saw them go, which cap the
        horizons they publish at theirs (see `_collect`)."""
        self._outgoing: list[Outgoing] = []
        self._events: deque[Event] = deque()
        self._kv = KvReplica(config, creds, self._trust, self.stats, self._events.append)
        self._published_horizon = 0
        self._kv_last_change = self._kv_settling_since = now
        self._budget = config.max_datagram - FRAME_OVERHEAD - _LIST_SLACK
        # A relay nacks early enough for the nack to reach the prober before its probe period ends.
        window = min(config.probe_timeout, config.probe_interval - config.probe_timeout)
        self._relay_timeout = _NACK_FRACTION * window
        self._seq = 0
        self._counter = 0
        self._left = False
        mine = self._members.get(self.local_id)
        if mine is not None and (mine.generation, mine.claim.address) == (generation, address):
            self.incarnation = mine.incarnation
        else:
            self.incarnation = (
                mine.incarnation + 1 if mine is not None and mine.generation == generation else 0
            )
            claim = sign_alive(creds, address, generation, self.incarnation)
            self._members.apply_alive(claim)
            if len(self._members) > 1:  # a restart among known members: announce the new life
                self._rumour(self.local_id, claim, now)
        self._timers.set(_PROBE, now + rng.random() * config.probe_interval)
        self._timers.set(_PUSH_PULL, now + rng.random() * self._push_pull_interval())
        self._schedule_reconnect(now)

    # ----------------------------------------------------------------- driver API

    def join(self, addresses: Iterable[str], now: float) -> None:
        """Contact seed nodes by push-pull: they send back their view and learn ours."""
        mine = self._members.get(self.local_id)
        assert mine is not None
        for address in addresses:
            self._send_reliable(
                address, [mine.claim, self._sync(reply=True, with_digest=True), self._kv.offer(address, self.wall_ms(now))]
            )

    def receive(
        self, source_address: str, messages: Iterable[Message], now: float, reliable: bool = False
    ) -> None:
        """Handle messages from one opened frame; `source_address` is where replies go."""
        stats = self.stats
        for message in messages:
            stats.received += 1
            # One isinstance chain, the commonest first: compiled, each arm is a direct native call
            # (a table of unbound methods would go through Python's calling convention every time).
            if isinstance(message, (Suspect, Dead, Leave)):
                self._on_statement(source_address, message, now)
            elif isinstance(message, Ping):
                self._on_ping(source_address, message, now)
            elif isinstance(message, Ack):
                self._on_ack(source_address, message, now)
            elif isinstance(message, Owned):
                self._on_owned(source_address, message, now)
            elif isinstance(message, Alive):
                self._on_alive(source_address, message, now)
            elif isinstance(message, KvEntry):
                self._on_kv_entry(source_address, message, now)
            elif isinstance(message, Sync):
                self._on_sync(source_address, message, now)
            elif isinstance(message, IndirectPing):
                self._on_indirect_ping(source_address, message, now)
            elif isinstance(message, Nack):
                self._on_nack(source_address, message, now)
            elif isinstance(message, KvWriter):
                self._on_kv_writer(source_address, message, now)
            elif isinstance(message, KvHashes):
                self._on_kv_hashes(source_address, message, now)
            elif isinstance(message, KvDigest):
                self._on_kv_digest(source_address, message, now)
            elif isinstance(message, KvWant):
                self._on_kv_want(source_address, message, now)

    def handle_timer(self, now: float) -> None:
        """Run everything due at `now`."""
        timers = self._timers
        while (key := timers.pop_due(now)) != NOTHING_DUE:
            if key == KEYED:
                kind, arg = cast("tuple[str, Any]", timers.pop_keyed())
                if kind == _SUSPECT:
                    self._suspicion_expired(arg, now)
                else:
                    self._relay_expired(arg)
            elif key == _PROBE:
                self._probe_tick(now)
            elif key == _PROBE_TIMEOUT:
                self._probe_timeout(now)
            elif key == _GOSSIP:
                self._gossip(now)
            elif key == _PUSH_PULL:
                self._push_pull(now)
            elif key == _KV_GOSSIP:
                self._kv_gossip(now)
            elif key == _KV_SYNC:
                self._kv_sync(now)
            elif key == _REAP:
                self._reap(now)
            else:
                self._reconnect(now)

    def set_local(self, key: object, value: object, now: float) -> None:
        """Publish (or with None delete) one entry of this node's owned state: `key` a string, `value`
        bytes. Both are checked here, so a caller's wrong type is an InvalidArgument, compiled or not."""
        if not isinstance(key, str) or len(key) > codec.MAX_KEY:
            raise InvalidArgument(f"owned-state keys are strings of at most {codec.MAX_KEY} characters")
        if value is not None and (not isinstance(value, bytes) or len(value) > self.config.max_reliable // 2):
            raise InvalidArgument("owned-state values are bytes of at most max_reliable / 2")
        self._counter += 1
        entry = sign_owned(self._creds, self.generation, self._counter, key, value)
        self._owned.apply(entry)
        self._rumour((self.local_id, key), entry, now)

    def leave(self, now: float) -> None:
        """Leave gracefully: gossip a signed leave statement and stop probing."""
        if self._left:
            return
        self._left = True
        statement = sign_leave(self._creds, self.generation, self.incarnation)
        self._members.apply_statement(statement)
        for key in (_PROBE, _PROBE_TIMEOUT, _PUSH_PULL, _RECONNECT):
            self._timers.cancel(key)
        self._rumour(self.local_id, statement, now)

    def revoke(self, node_id: bytes, now: float) -> None:
        """Refuse member `node_id` from now on (the node's auth says its key was revoked): its cached
        admission is dropped and its later alive claims refused (`dropped_revoked`), so it can never come
        back alive; a live record of it is declared dead here, which drops its owned state and spreads
        the dead statement; and nobody reconnects to it or keeps tombstones for its return."""
        if node_id == self.local_id or not self._trust.revoke(node_id):
            return
        record = self._members.get(node_id)
        if record is not None and record.rank < _DOWN:
            self._on_statement(self.address, Dead(node_id, record.generation, record.incarnation, self.local_id), now)
        self._kv_horizons.pop(node_id, None)
        self._gone.pop(node_id, None)
        self._kv_unseen.discard(node_id)

    def get_timer(self) -> float | None:
        """The earliest deadline, or None when nothing is scheduled."""
        return self._timers.earliest()

    def packets_to_send(self) -> list[Outgoing]:
        """Everything queued for sending since the last call (not to be modified: when nothing is, the
        empty list given is the core's own, kept rather than replaced after every message)."""
        out = self._outgoing
        if out:
            self._outgoing = []
        return out

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def members(self) -> list[Member]:
        """Every member this node knows, itself included."""
        return [record.member() for record in self._members]

    def owned(self, node_id: bytes) -> Mapping[str, bytes]:
        """A member's owned state (empty once it left or died)."""
        return self._owned.values(node_id)

    @property
    def left(self) -> bool:
        return self._left

    # ----------------------------------------------------------------- the shared key-value map

    def wall_ms(self, now: float) -> int:
        """Wall-clock milliseconds at core time `now` (the HLC's physical clock)."""
        return int((now + self.wall_offset) * 1000)

    def kv_write(
        self, db: str, table: str, key: str, value: bytes | None, ttl: float | None, now: float
    ) -> KvEntry:
        """A signed register for a put (value None: a delete), stamped after anything held for the key.
        Raises InvalidArgument; installs nothing until `kv_publish` (the driver makes it durable first)."""
        return self._kv.write(db, table, key, value, ttl, self.wall_ms(now))

    def kv_draft(
        self, db: str, table: str, key: str, value: bytes | None, ttl: float | None, now: float
    ) -> KvEntry:
        """As `kv_write`, but not yet signed: drafts written together are signed together by `kv_sign`,
        one signature for the lot, so that replicas check one signature per batch."""
        return self._kv.draft(db, table, key, value, ttl, self.wall_ms(now))

    def kv_sign(self, drafts: list[KvEntry]) -> list[KvEntry]:
        """Sign drafts from `kv_draft` (in order), ready for `kv_publish`."""
        return self._kv.sign(drafts)

    def kv_publish(self, entry: KvEntry, now: float) -> None:
        """Install a register from `kv_write` or `kv_sign` and gossip it."""
        if self._kv.publish(entry):
            self._kv_changed(entry, now)

    def kv_get(self, db: str, table: str, key: str, now: float) -> KvEntry | None:
        """The visible register for a key (None if absent, deleted or expired)."""
        return self._kv.get(db, table, key, self.wall_ms(now))

    def kv_list(
        self, db: str, table: str, prefix: str, now: float, limit: int = 0, offset: int = 0, reverse: bool = False
    ) -> list[KvEntry]:
        """Visible registers of a table whose key starts with `prefix`, in key order."""
        return self._kv.list(db, table, prefix, self.wall_ms(now), limit, offset, reverse)

    def kv_databases(self, now: float) -> list[str]:
        return self._kv.databases(self.wall_ms(now))

    def kv_tables(self, db: str, now: float) -> list[str]:
        return self._kv.tables(db, self.wall_ms(now))

    def kv_load(self, entries: Iterable[KvEntry], writers: Iterable[KvWriter], now: float) -> None:
        """Restore the replica from storage at start (no events)."""
        self._kv.load(entries, writers, self.wall_ms(now))

    @property
    def kv_root(self) -> int:
        """The replica's root hash: equal roots, equal maps."""
        return self._kv.map.root

    # ----------------------------------------------------------------- sending

    def _send(self, address: str, messages: list[Message]) -> None:
        """One datagram: `messages` plus as many queued rumours as fit."""
        if self._queue or self._kv_queue:
            messages = self._fill(messages, self._budget - sum(codec.message_size(m) for m in messages))
        self._outgoing.append(Outgoing(address, tuple(messages), False))

    def _fill(self, messages: list[Message], room: int) -> list[Message]:
        """`messages` plus queued rumours within `room` bytes: membership first, then key-value registers."""
        live = self._members.live
        if self._queue:
            rumours = self._queue.take(room, live)
            room -= sum(codec.message_size(m) for m in rumours)
            messages = messages + rumours
            if not self._queue:  # no round to wake up for
                self._timers.cancel(_GOSSIP)
        if self._kv_queue:
            messages = messages + self._kv_queue.take(room, live)
            if not self._kv_queue:
                self._timers.cancel(_KV_GOSSIP)
        return messages

    def _send_reliable(self, address: str, messages: list[Message]) -> None:
        """Peer-link frames, split so each stays within max_reliable."""
        budget = self.config.max_reliable - FRAME_OVERHEAD - _LIST_SLACK
        chunk: list[Message] = []
        size = 0
        for message in messages:
            n = codec.message_size(message)
            if chunk and (size + n > budget or len(chunk) >= codec.MAX_MESSAGES):
                self._outgoing.append(Outgoing(address, tuple(chunk), True))
                chunk, size = [], 0
            chunk.append(message)
            size += n
        if chunk:
            self._outgoing.append(Outgoing(address, tuple(chunk), True))

    def _rumour(self, subject: Hashable, message: Message, now: float) -> None:
        """Queue a rumour; gossip at once if no round is scheduled (prompt forwarding)."""
        self._queue.push(subject, message, self._recent.add(message, now))
        if self._timers.get(_GOSSIP) is None:
            self._timers.set(_GOSSIP, now)

    def _live(self, node_id: bytes) -> bool:
        return node_id != self.local_id and self._members.is_live(node_id)

    def _address(self, node_id: bytes) -> str:
        record = self._members.get(node_id)
        assert record is not None
        return record.claim.address

    # ----------------------------------------------------------------- failure detection

    def _probe_tick(self, now: float) -> None:
        probe = self._probe
        if probe is not None:
            self._pending.pop(probe.seq, None)
            self._probe = None
            if not probe.acked:
                self._probe_failed(probe, now)
        if self._left:
            return
        self._timers.set(_PROBE, now + self._awareness.scale(self.config.probe_interval))
        target = self._probes.next()
        if target is None:
            return
        record = self._members.get(target)
        assert record is not None
        self._seq += 1
        probe = self._probe = _Probe(target, self._seq)
        self._pending[probe.seq] = probe
        self.stats.probes += 1
        ping: list[Message] = [Ping(probe.seq, target, self._recent.tags(now))]
        if record.state is MemberState.SUSPECT and record.statement is not None:
            ping.insert(0, record.statement)  # buddy system: tell it first so it can refute
        self._send(record.claim.address, ping)
        self._timers.set(_PROBE_TIMEOUT, now + self._awareness.scale(self.config.probe_timeout))

    def _probe_timeout(self, now: float) -> None:
        probe = self._probe
        if probe is None or probe.acked or not self._live(probe.target):
            return
        address = self._address(probe.target)
        relays = self._probes.sample(self.config.indirect_checks, exclude=probe.target)
        for relay in relays:
            self._send(relay, [IndirectPing(probe.seq, probe.target, address)])
        probe.expected_nacks = len(relays)
        self.stats.indirect_probes += len(relays)

    def _probe_failed(self, probe: _Probe, now: float) -> None:
        self.stats.probes_failed += 1
        missed = probe.expected_nacks - probe.nacks if probe.expected_nacks else 1
        self._awareness.apply_delta(max(missed, 0))
        record = self._members.get(probe.target)
        if record is not None and record.rank < _DOWN:
            suspect = Suspect(probe.target, record.generation, record.incarnation, self.local_id)
            self._on_statement(self.address, suspect, now)

    def _on_ping(self, source: str, ping: Ping, now: float) -> None:
        if ping.target != self.local_id:
            self.stats.dropped_misdirected += 1
            return
        lacking = self._recent.lacks_any(ping.recent, now)
        ack = Ack(ping.seq, self._recent.tags(now) if lacking else None)
        room = self._budget - codec.message_size(ack)
        self._send(source, [ack, *self._recent.missing(ping.recent, room, now)])

    def _on_indirect_ping(self, source: str, request: IndirectPing, now: float) -> None:
        self._seq += 1
        self._pending[self._seq] = _Relay(source, request.seq)
        self._timers.set_keyed((_RELAY, self._seq), now + self._relay_timeout)
        self._send(request.address, [Ping(self._seq, request.target, self._recent.tags(now))])

    def _relay_expired(self, seq: int) -> None:
        relay = self._pending.pop(seq, None)
        if isinstance(relay, _Relay):
            self._send(relay.requester, [Nack(relay.seq)])

    def _on_ack(self, source: str, ack: Ack, now: float) -> None:
        if ack.recent is not None:  # the pinged node lacks some of our recent rumours
            rumours = self._recent.missing(ack.recent, self._budget, now)
            if rumours:
                self._outgoing.append(Outgoing(source, tuple(rumours), False))
        waiting = self._pending.pop(ack.seq, None)
        if isinstance(waiting, _Relay):
            self._timers.cancel_keyed((_RELAY, ack.seq))
            self._send(waiting.requester, [Ack(waiting.seq)])
        elif waiting is not None and waiting is self._probe:
            waiting.acked = True
            self._awareness.apply_delta(-1)
            self._timers.cancel(_PROBE_TIMEOUT)

    def _on_nack(self, source: str, nack: Nack, now: float) -> None:
        waiting = self._pending.get(nack.seq)
        if isinstance(waiting, _Probe):
            waiting.nacks += 1

    def _suspicion_expired(self, node_id: bytes, now: float) -> None:
        self._suspicions.pop(node_id, None)
        record = self._members.get(node_id)
        if record is not None and record.state is MemberState.SUSPECT:
            dead = Dead(node_id, record.generation, record.incarnation, self.local_id)
            self._on_statement(self.address, dead, now)

    # ----------------------------------------------------------------- claims

    def _on_alive(self, source: str, claim: Alive, now: float) -> None:
        if claim.node_id == self.local_id:
            if claim.generation == self.generation and claim.incarnation > self.incarnation:
                self._refute(claim.incarnation, now, reannounce=False)
            return
        if self._members.judge_alive(claim) is not Verdict.NEW:
            self.stats.dropped_stale += 1
        elif self._trust.revoked(claim.node_id):
            self.stats.dropped_revoked += 1
        elif not self._trust.admit(claim.node_id, claim.chain):
            self.stats.dropped_unadmitted += 1
        elif not self._trust.alive_signed(claim):
            self.stats.dropped_bad_signature += 1
        else:
            self._changed(self._members.apply_alive(claim), now)

    def _on_statement(self, source: str, statement: Statement, now: float) -> None:
        """A suspect, dead or leave statement, received from `source` or made here (source: our address)."""
        node_id = statement.node_id
        if node_id == self.local_id:
            refutable = isinstance(statement, Suspect | Dead) and statement.generation == self.generation
            if refutable and not self._left and statement.incarnation >= self.incarnation:
                self._refute(statement.incarnation, now, reannounce=isinstance(statement, Dead))
            return
        verdict = self._members.judge_statement(statement)
        if verdict is Verdict.STALE:  # the usual case: one more copy of a rumour already applied
            self.stats.dropped_stale += 1
        elif verdict is Verdict.CONFIRM:
            assert isinstance(statement, Suspect)
            self._confirm(statement, now)
        elif verdict is Verdict.UNKNOWN:
            self.stats.dropped_unknown += 1
        elif isinstance(statement, Leave) and not self._trust.leave_signed(statement):
            self.stats.dropped_bad_signature += 1
        else:
            self._changed(self._members.apply_statement(statement), now)

    def _confirm(self, statement: Suspect, now: float) -> None:
        """Another accuser of a suspected life. Confirmations are not gossiped: our own goes straight to
        the first accuser we heard of, whose suspicion (the earliest to expire) it shortens; its dead
        statement then reaches everyone."""
        suspicion = self._suspicions.get(statement.node_id)
        if suspicion is None or not suspicion.confirm(statement.accuser):
            return
        self._timers.set_keyed((_SUSPECT, statement.node_id), suspicion.deadline())
        record = self._members.get(statement.node_id)
        held = record.statement if record is not None else None
        if statement.accuser == self.local_id and isinstance(held, Suspect) and self._live(held.accuser):
            self._send(self._address(held.accuser), [statement])

    def _refute(self, incarnation: int, now: float, reannounce: bool) -> None:
        """Someone holds a claim about our life at `incarnation`: supersede it."""
        self.incarnation = max(self.incarnation, incarnation) + 1
        self.stats.refutations += 1
        claim = sign_alive(self._creds, self.address, self.generation, self.incarnation)
        self._members.apply_alive(claim)
        self._rumour(self.local_id, claim, now)
        if reannounce:  # those who believed us dead dropped our owned state
            for entry in self._owned.entries(self.local_id):
                self._rumour((self.local_id, entry.key), entry, now)

    def _changed(self, change: Change, now: float) -> None:
        """The effects of one accepted transition: rumour, timers, owned state, events."""
        old, new = change.old, change.new
        node_id = new.node_id
        self._rumour(node_id, new.statement or new.claim, now)
        if new.state is MemberState.SUSPECT:
            self._start_suspicion(new, now)
        elif self._suspicions.pop(node_id, None) is not None:
            self._timers.cancel_keyed((_SUSPECT, node_id))
        self._kv_member_changed(old, new)
        if old is None:
            self._probes.add(node_id)
        elif old.generation != new.generation or (new.rank >= _DOWN > old.rank):
            self._drop_owned(node_id)
        if new.rank >= _DOWN:
            self._queue_reap(new, now)
            self._schedule_reconnect(now)
        self._events.append(_event(old, new))

    def _start_suspicion(self, record: MemberRecord, now: float) -> None:
        statement = record.statement
        assert isinstance(statement, Suspect)
        live = self._members.live
        k = min(self.config.suspicion_confirmations, live - 2)
        low, high = suspicion_bounds(
            self.config.suspicion_mult,
            self.config.suspicion_max_timeout_mult,
            live,
            self.config.probe_interval,
        )
        suspicion = self._suspicions[record.node_id] = Suspicion(statement.accuser, now, k, low, high)
        self._timers.set_keyed((_SUSPECT, record.node_id), suspicion.deadline())
        # A few of those who hear of the suspicion probe the member at once, to confirm it quickly.
        if statement.accuser != self.local_id and self._rng.random() * live < _PROMPT_PROBERS * k:
            self._probes.prioritise(record.node_id)

    def _drop_owned(self, node_id: bytes) -> None:
        for key in self._owned.drop(node_id):
            self._events.append(OwnedStateChanged(node_id, key, None))

    def _on_owned(self, source: str, entry: Owned, now: float) -> None:
        record = self._members.get(entry.node_id)
        if entry.node_id == self.local_id:
            return
        if record is None or record.rank >= _DOWN or record.generation != entry.generation:
            self.stats.dropped_unknown += 1
        elif not self._owned.is_newer(entry):
            self.stats.dropped_stale += 1
        elif not self._trust.owned_signed(entry):
            self.stats.dropped_bad_signature += 1
        else:
            if self._owned.apply(entry):
                self._events.append(OwnedStateChanged(entry.node_id, entry.key, entry.value))
            self._rumour((entry.node_id, entry.key), entry, now)

    def _queue_reap(self, record: MemberRecord, now: float) -> None:
        """Forget `record`'s member `dead_reap_time` from now, if the record is still the one held then.
        The delay is fixed and the core's clock never goes back, so reaps fall due in the order they are
        queued: a deque, where a keyed deadline each would cost a heap entry, a key and a map entry (ten
        thousand simulated cores each hold one per crash, and reaps are due long after a run ends)."""
        due = now + self.config.dead_reap_time
        if not self._reaps:
            self._timers.set(_REAP, due)
        self._reaps.append((due, record))

    def _reap(self, now: float) -> None:
        reaps = self._reaps
        while reaps and reaps[0][0] <= now:
            due, record = reaps.popleft()
            node_id = record.node_id
            # A member back alive, or down again since, holds another record (records are replaced on change).
            if self._members.get(node_id) is record and node_id != self.local_id:
                self._members.remove(node_id)
                self._drop_owned(node_id)
                self._events.append(MemberReaped(node_id))
                since = due - self.config.dead_reap_time
                if node_id in self._kv_unseen:
                    self._kv_unseen.discard(node_id)
                elif now - since < self.config.kv_tombstone_grace and not self._trust.revoked(node_id):
                    self._gone[node_id] = (since, record)
                else:
                    self._kv_horizons.pop(node_id, None)
        if reaps:
            self._timers.set(_REAP, reaps[0][0])

    # ----------------------------------------------------------------- dissemination and anti-entropy

    def _gossip(self, now: float) -> None:
        if self._queue:
            self._round(self._queue, bulk=False)
        if self._queue:
            self._timers.set(_GOSSIP, now + self.config.gossip_interval)

    def _kv_gossip(self, now: float) -> None:
        if self._kv_queue:
            self._round(self._kv_queue, bulk=True)
        if self._kv_queue:
            self._timers.set(_KV_GOSSIP, now + self.config.kv_gossip_interval)

    def _round(self, queue: BroadcastQueue, bulk: bool) -> None:
        """One gossip round of `queue` to `gossip_nodes` random members: a datagram of rumours to each, and
        over peer links the rumours too big for any datagram. With `bulk`, a queue holding more than one
        datagram carries goes over peer links instead, the same rumours to every target (so a fan-out that
        covers the mesh reaches everyone in one round, and a write burst is not lost with datagrams)."""
        live = self._members.live
        targets = self._probes.sample(self.config.gossip_nodes)
        if bulk and queue.bytes > self._budget:
            extra = queue.take_oversized(self._budget) + queue.take(self.config.gossip_bulk, live, len(targets))
        else:
            for target in targets:
                rumours = queue.take(self._budget, live)
                if not rumours:
                    break
                self.stats.gossip_datagrams += 1
                self._outgoing.append(Outgoing(target, tuple(rumours), False))
            extra = queue.take_oversized(self._budget)
        for target in targets if extra else ():
            self._send_reliable(target, extra)

    def _sync(self, reply: bool, with_digest: bool) -> Sync:
        view = view_hash(self._members, self._owned)
        return Sync(reply, view, digest(self._members, self._owned) if with_digest else None)

    def _on_sync(self, source: str, sync: Sync, now: float) -> None:
        if sync.digest is None:
            if sync.view_hash != view_hash(self._members, self._owned):
                self._send_reliable(source, [self._sync(reply=True, with_digest=True)])
            return
        out = delta(self._members, self._owned, sync.digest)
        if sync.reply:
            out.append(self._sync(reply=False, with_digest=True))
        if out:
            self._send_reliable(source, out)

    def _push_pull_interval(self) -> float:
        return push_pull_interval(self.config.push_pull_interval, self._members.live)

    def _push_pull(self, now: float) -> None:
        self._timers.set(_PUSH_PULL, now + self._push_pull_interval())
        for target in self._probes.sample(1):
            self.stats.push_pulls += 1
            self._anti_entropy(target, now)
        if len(self._kv.map):
            self._collect(now)

    def _anti_entropy(self, address: str, now: float) -> None:
        self._send_reliable(
            address, [self._sync(reply=False, with_digest=False), self._kv.offer(address, self.wall_ms(now))]
        )

    def _schedule_reconnect(self, now: float) -> None:
        if not self._left and self._timers.get(_RECONNECT) is None and self._members.any_down():
            self._timers.set(_RECONNECT, now + self.config.reconnect_interval)

    def _reconnect(self, now: float) -> None:
        down = [node_id for node_id in self._members.down() if not self._trust.revoked(node_id)]
        if not down:
            return
        self.stats.reconnects += 1
        target = self._rng.choice(down)
        self._anti_entropy(self._address(target), now)
        self._timers.set(_RECONNECT, now + self.config.reconnect_interval)


    # ----------------------------------------------------------------- key-value replication

    def _on_kv_entry(self, source: str, entry: KvEntry, now: float) -> None:
        record = self._members.get(entry.writer)
        if record is not None:
            self._kv.know_member(entry.writer, record.claim.chain)
        dropped = self._kv.receive(entry, self.wall_ms(now))
        if dropped is None:
            # Straight from its writer in a mesh its fan-out covers: every member got its own copy.
            direct = record is not None and record.claim.address == source
            self._kv_changed(entry, now, forward=not (direct and self._members.live - 1 <= self.config.gossip_nodes))
        else:
            setattr(self.stats, dropped, getattr(self.stats, dropped) + 1)

    def _kv_changed(self, entry: KvEntry, now: float, forward: bool = True) -> None:
        """Spread a newly installed register, and compare maps with random peers once writes settle:
        gossip reaches nearly everyone at once, this closes the rest in about `kv_sync_delay`. Registers
        skip the pull repair on pings (`RecentRumours`): this comparison is theirs. Registers of
        `kv_rumour_dbs` go as rumours too, with their retransmits and pull repair: those must be
        everywhere within a dissemination time."""
        if entry.db in self.config.kv_rumour_dbs:
            self._rumour((entry.db, entry.table, entry.key), entry, now)
        if forward:
            self._kv_queue.push((entry.db, entry.table, entry.key), entry, codec.message_size(entry))
            if self._timers.get(_KV_GOSSIP) is None:  # at once; what comes meanwhile waits for the next round
                self._timers.set(_KV_GOSSIP, now)
        self._kv_last_change = now
        if self._timers.get(_KV_SYNC) is None:
            self._kv_settling_since = now
            self._timers.set(_KV_SYNC, now + self.config.kv_sync_delay)

    def _kv_sync(self, now: float) -> None:
        # While registers still stream in, the maps differ only by what is in flight: wait for a quiet
        # `kv_sync_delay`, but no longer than `_KV_SYNC_MAX_WAIT` of them, so repair is never starved.
        quiet_at = self._kv_last_change + self.config.kv_sync_delay
        patience = self._kv_settling_since + _KV_SYNC_MAX_WAIT * self.config.kv_sync_delay
        if now < quiet_at and now < patience:
            self._timers.set(_KV_SYNC, min(quiet_at, patience))
            return
        for address in self._probes.sample(self.config.kv_sync_peers):
            self._send_reliable(address, [self._kv.offer(address, self.wall_ms(now))])

    def _on_kv_writer(self, source: str, writer: KvWriter, now: float) -> None:
        self._kv.admit_writer(writer)

    def _on_kv_hashes(self, source: str, message: KvHashes, now: float) -> None:
        self._kv_reply(source, self._kv.on_hashes(source, message))

    def _on_kv_digest(self, source: str, digest: KvDigest, now: float) -> None:
        self._kv_reply(source, self._kv.on_digest(digest))

    def _on_kv_want(self, source: str, want: KvWant, now: float) -> None:
        self._kv_reply(source, self._kv.on_want(want))

    def _kv_reply(self, source: str, reply: list[Message] | None) -> None:
        if reply is None:
            self.stats.dropped_malformed += 1
        elif reply:
            self._send_reliable(source, reply)

    def _collect(self, now: float) -> None:
        """Advance and publish the sync horizon, then collect what every member holds (see `kv.py`)."""
        wall = self.wall_ms(now)
        live = [r for r in self._members if r.rank < _DOWN and r.node_id != self.local_id]
        away = self._away(now)
        if not live and not away:
            # A mesh of one, a member that has not found the others yet, or one that has been cut off from
            # them past the grace: collect what this replica holds, but claim no horizon.
            self._kv.set_floor(wall)
            self._kv.collect(wall)
            return
        horizon = self._kv.advance_horizon([r.claim.address for r in live + away])
        floor = min([horizon] + [self._kv_horizons.get(r.node_id, 0) for r in away])
        if floor != self._published_horizon:
            self._published_horizon = floor
            self.set_local(HORIZON_KEY, floor.to_bytes(8, "big"), now)
        for record in live:
            published = self._owned.values(record.node_id).get(HORIZON_KEY)
            floor = min(floor, int.from_bytes(published, "big") if published else 0)
        self._kv.set_floor(floor)
        self._kv.collect(wall)

    def _away(self, now: float) -> list[MemberRecord]:
        """Members seen to go down, and down or reaped since, for less than `kv_tombstone_grace`: they may
        come back from their data dirs, so collection waits for them. A down member's reap entry tells when
        it went down."""
        grace = self.config.kv_tombstone_grace
        reap = self.config.dead_reap_time
        unseen = self._kv_unseen
        trust = self._trust
        away = [
            r for due, r in self._reaps
            if self._members.get(r.node_id) is r and r.node_id not in unseen and now - (due - reap) < grace
            and not trust.revoked(r.node_id)  # a revoked member never comes back
        ]
        for node_id, (since, record) in list(self._gone.items()):
            if now - since < grace:
                away.append(record)
            else:
                del self._gone[node_id]
                self._kv_horizons.pop(node_id, None)
        return away

    def _kv_member_changed(self, old: MemberRecord | None, new: MemberRecord) -> None:
        """Keep the horizon a member published when it goes away (its owned state is dropped), note a
        member first heard of as down, and forget both when the member is back (see `_collect`)."""
        node_id = new.node_id
        if new.rank < _DOWN:
            if self._kv_horizons or self._gone or self._kv_unseen:
                self._kv_horizons.pop(node_id, None)
                self._gone.pop(node_id, None)
                self._kv_unseen.discard(node_id)
        elif old is None:
            self._kv_unseen.add(node_id)
        elif old.rank < _DOWN and old.generation == new.generation:
            published = self._owned.values(node_id).get(HORIZON_KEY)
            if published:
                self._kv_horizons[node_id] = int.from_bytes(published, "big")


def _event(old: MemberRecord | None, new: MemberRecord) -> Event:
    member = new.member()
    if new.state is MemberState.SUSPECT:
        assert isinstance(new.statement, Suspect)
        return MemberSuspected(member, new.statement.accuser)
    if new.state is MemberState.DEAD:
        return MemberFailed(member)
    if new.state is MemberState.LEFT:
        return MemberLeft(member)
    if old is None or old.rank >= _DOWN:
        return MemberJoined(member)
    if old.state is MemberState.SUSPECT:
        return MemberRecovered(member)
    return MemberUpdated(member)
