"""The asyncio binding of one `MeshCore`: feed it, send what it returns, keep its one timer.

Everything the core needs comes in here with `loop.time()`: UDP datagrams (opened by `Wire`, then
`core.receive(..., reliable=False)`) and peer-link frames (`reliable=True`). After every input the
runtime drains the core: each `Outgoing` is sealed with `Wire.seal` and handed to the transport (as a
datagram, or over a peer link when the core marked it reliable), each event becomes a log line, and the
single `loop.call_at` timer is re-armed to `core.get_timer()`. The runtime makes no protocol decisions.
Events of the shared key-value map are not logged but handed to the KV layer, which persists them and
feeds watches (see `kv.py`); `OwnedStateChanged` events go to the service registry (`registry.py`) as
well as to the log; the core's wall clock is the loop's clock shifted by `wall_offset`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import Any

from ..identity.keyring import Keyring
from ..mesh import (
    KvChanged,
    KvEntry,
    KvPurged,
    KvWriter,
    KvWriterKnown,
    MemberFailed,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MemberSuspected,
    MemberUpdated,
    MeshConfig,
    MeshCore,
    OwnedStateChanged,
    Rng,
    Wire,
)
from ..mesh.events import Event
from .api.errors import Unavailable
from .api.names import node_id_text
from .credentials import NodeCredentials, NodeVerifier
from .log import Logger
from .transport import Transport

__all__ = ["Runtime", "node_id_text"]

_KV_EVENTS = (KvChanged, KvPurged, KvWriterKnown)
# Events after which the remembered member list may be out of date.
_MEMBERSHIP_EVENTS = (MemberJoined, MemberUpdated, MemberRecovered, MemberFailed, MemberLeft, MemberReaped)
_EVENT_NAMES: dict[type, str] = {
    MemberJoined: "member.joined",
    MemberUpdated: "member.updated",
    MemberSuspected: "member.suspected",
    MemberRecovered: "member.recovered",
    MemberFailed: "member.failed",
    MemberLeft: "member.left",
    MemberReaped: "member.reaped",
    OwnedStateChanged: "owned.changed",
}
# A burst of inputs can queue many events; draining is bounded per pump and resumed on the next one.
_MAX_EVENTS_PER_PUMP = 10_000


class Runtime:
    """Drives one core (replaced wholesale when the node joins another mesh) on the running loop."""

    def __init__(self, transport: Transport, logger: Logger, on_members_changed: Callable[[], None],
                 on_kv_event: Callable[[Event], None] = lambda event: None,
                 on_owned: Callable[[OwnedStateChanged], None] = lambda event: None) -> None:
        self._transport = transport
        self._log = logger
        self._on_members_changed = on_members_changed
        self._on_kv_event = on_kv_event
        self._on_owned = on_owned
        self._loop = asyncio.get_running_loop()
        self._core: MeshCore | None = None
        self._wire: Wire | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._closed = False

    @property
    def running(self) -> bool:
        return self._core is not None and not self._closed

    def build(self, config: MeshConfig, creds: NodeCredentials, verifier: NodeVerifier, keyring: Keyring,
              address: str, generation: int, rng: Rng, clock_offset: float = 0.0,
              kv_state: tuple[Iterable[KvEntry], Iterable[KvWriter]] = ((), ())) -> None:
        """Start a fresh core for one node life (and drop the previous one, if any).

        `clock_offset` (seconds) is added to the wall clock the core stamps KV writes with (tests use it
        to skew nodes); `kv_state` is the stored replica, loaded before the core meets anyone.
        """
        self._cancel_timer()
        now = self._loop.time()
        self._wire = Wire(keyring, creds.node_id, generation, config)
        self._core = MeshCore(config, creds, verifier, address=address, generation=generation, rng=rng, now=now,
                              wall_offset=time.time() - now + clock_offset)
        self._core.kv_load(*kv_state, now)
        self._closed = False
        self._pump()

    # ---- inputs ---------------------------------------------------------------------------------

    def datagram_received(self, data: bytes, source: str) -> None:
        self._input(data, source, reliable=False)

    def frame_received(self, data: bytes, source: str) -> None:
        self._input(data, source, reliable=True)

    def _input(self, data: bytes, source: str, reliable: bool) -> None:
        if self._core is None or self._wire is None or self._closed:
            return
        now = self._loop.time()
        opened = self._wire.open(data, now, reliable=reliable)
        if opened is None:
            return
        self._core.receive(source, opened.messages, now, reliable=reliable)
        self._pump()

    def join(self, addresses: list[str]) -> None:
        if self._core is None or not addresses:
            return
        self._core.join(addresses, self._loop.time())
        self._pump()

    def leave(self) -> None:
        if self._core is None or self._closed:
            return
        self._core.leave(self._loop.time())
        self._pump()

    def kv_publish(self, entries: Iterable[KvEntry]) -> None:
        """Install committed registers of this node in the replica and gossip them. A node stopping
        meanwhile skips this: the registers are in the file, loaded and spread after the next start."""
        core = self._core
        if core is None or self._closed:
            return
        now = self._loop.time()
        for entry in entries:
            core.kv_publish(entry, now)
        self._pump()

    def set_local(self, key: str, value: bytes | None) -> None:
        """Publish (None: delete) an entry of this node's owned state; skipped while no core runs (the
        registry publishes its instances again into the next core)."""
        core = self._core
        if core is None or self._closed:
            return
        core.set_local(key, value, self._loop.time())
        self._pump()

    def revoke(self, node_id: bytes) -> None:
        """Refuse a member whose key was revoked: its frames (the wire) and the member itself (the core)."""
        core, wire = self._core, self._wire
        if core is None or wire is None or self._closed:
            return
        wire.refuse(node_id)
        core.revoke(node_id, self._loop.time())
        self._pump()

    def close(self) -> None:
        """Stop driving the core: no more timers, inputs are ignored."""
        self._closed = True
        self._cancel_timer()

    # ---- outputs --------------------------------------------------------------------------------

    def _on_timer(self) -> None:
        self._timer = None
        self._timer_at = None
        if self._core is None or self._closed:
            return
        self._core.handle_timer(self._loop.time())
        self._pump()

    def _pump(self) -> None:
        core, wire = self._core, self._wire
        if core is None or wire is None:
            return
        for packet in core.packets_to_send():
            data = wire.seal(packet.messages, packet.reliable)
            if packet.reliable:
                self._transport.send_reliable(packet.address, data)
            else:
                self._transport.send_datagram(packet.address, data)
        membership_changed = False
        for _ in range(_MAX_EVENTS_PER_PUMP):
            event = core.next_event()
            if event is None:
                break
            if isinstance(event, _KV_EVENTS):
                self._on_kv_event(event)
                continue
            if isinstance(event, OwnedStateChanged):
                self._on_owned(event)
            self._log_event(event)
            membership_changed = membership_changed or isinstance(event, _MEMBERSHIP_EVENTS)
        if membership_changed:
            self._on_members_changed()
        if not self._closed:
            self._arm(core.get_timer())

    def _arm(self, deadline: float | None) -> None:
        if deadline == self._timer_at and self._timer is not None:
            return
        self._cancel_timer()
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_timer)
            self._timer_at = deadline

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def _log_event(self, event: Event) -> None:
        name = _EVENT_NAMES.get(type(event), type(event).__name__)
        fields: dict[str, Any] = {}
        member = getattr(event, "member", None)
        if member is not None:
            fields.update(node=node_id_text(member.node_id), address=member.address,
                          state=member.state.name.lower(), generation=member.generation,
                          incarnation=member.incarnation)
        if isinstance(event, MemberSuspected):
            fields["accuser"] = node_id_text(event.accuser)
        if isinstance(event, (MemberReaped, OwnedStateChanged)):
            fields["node"] = node_id_text(event.node_id)
        if isinstance(event, OwnedStateChanged):
            fields["key"] = event.key
            self._log.debug(name, **fields)
            return
        self._log.info(name, **fields)

    # ---- views ----------------------------------------------------------------------------------

    @property
    def core(self) -> MeshCore:
        """The running core (for reads and `kv_draft`, which need no pump); Unavailable when stopped."""
        if self._core is None or self._closed:
            raise Unavailable("the node is not running its mesh core (starting or stopping)")
        return self._core

    def now(self) -> float:
        """The core's time: the loop's clock."""
        return self._loop.time()

    def members(self) -> list[dict[str, Any]]:
        """Every member the core knows (itself included), as plain values."""
        if self._core is None:
            return []
        local = self._core.local_id
        return [
            {
                "id": node_id_text(m.node_id),
                "address": m.address,
                "state": m.state.name.lower(),
                "incarnation": m.incarnation,
                "generation": m.generation,
                "self": m.node_id == local,
            }
            for m in self._core.members()
        ]

    def member_address(self, node_id: bytes) -> str:
        """The address of a member ("" if unknown)."""
        if self._core is None:
            return ""
        return next((m.address for m in self._core.members() if m.node_id == node_id), "")

    def counters(self) -> dict[str, int]:
        """Every Wire and core counter, prefixed "wire." and "core."."""
        if self._core is None or self._wire is None:
            return {}
        out: dict[str, int] = {}
        for prefix, stats in (("wire", self._wire.stats), ("core", self._core.stats)):
            for f in dataclasses.fields(stats):
                out[f"{prefix}.{f.name}"] = int(getattr(stats, f.name))
        return out
