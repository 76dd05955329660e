"""Datagram and peer-link framing: encryption, authentication, replay protection, drop counters.

A frame is `VERSION || keyring.encrypt(cbor([sender_id, generation, seq, body]))`, where body is the
`codec.encode`d message list. The gossip keyring's SecretBox authenticates the whole frame, so only mesh
members can produce one. Each `Wire` numbers its frames with two sequence counters, one per channel:
datagrams, and peer-link frames (whose numbers have the top bit set, so a captured datagram cannot be
replayed as a peer-link frame or the reverse). The channels reorder differently — a burst of datagrams
easily overtakes a peer-link frame sent before it — so the receiver keeps, per sender and channel, the
newest generation seen and a sliding window of sequence numbers (64 wide for datagrams, 1,024 for
peer-link frames, which several concurrent calls carry), and drops frames of an older generation,
already-seen numbers, numbers that fell behind the window and numbers of the other channel. Frames of a
sender the node refuses (`refuse`: a member whose key was revoked) are dropped once opened; the sender id
is authenticated by the keyring only, so this holds against a revoked member that runs the protocol as
written, and the keyring rotation that follows a revocation holds against one that does not. `open` never
raises: every faulty frame is counted in `stats` and dropped. Replay windows of senders not heard from
for `REPLAY_IDLE` seconds are swept (at most once per `REPLAY_IDLE`), which bounds memory; a replay older
than that only carries claims the core already holds, and those are dropped as stale.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import cbor2
from micro.identity import OVERHEAD, DecryptFailed

from . import codec
from .config import MeshConfig
from .errors import DecodeError
from .messages import Message

__all__ = ["FRAME_OVERHEAD", "VERSION", "Opened", "Wire", "WireStats"]

VERSION = 2
"""Bumped when a frame's messages change in a way older nodes cannot decode (2: key-value registers signed
a batch at a time carry signatures past the old bound), so a mixed mesh drops each other's frames as
`dropped_version`, counted in `micro node status`, rather than failing to decode them."""
FRAME_OVERHEAD = 1 + OVERHEAD + 1 + (2 + 32) + 9 + 9 + 5
"""Upper bound of the bytes a frame adds to the encoded message list: the version byte, the keyring box,
and the CBOR header array (sender id, generation and seq as 64-bit integers, the body's length)."""
WINDOW = 64
RELIABLE_WINDOW = 1024
RELIABLE_SEQ = 1 << 63
"""The bit that marks a peer-link frame's sequence number."""
REPLAY_IDLE = 3600.0


class Box(Protocol):
    """The keyring interface the wire needs (`micro.identity.Keyring`)."""

    def encrypt(self, plaintext: bytes) -> bytes: ...

    def decrypt(self, data: bytes) -> bytes: ...


@dataclass(slots=True)
class WireStats:
    """Plain counters of accepted and dropped frames."""

    opened: int = 0
    dropped_malformed: int = 0
    dropped_oversized: int = 0
    dropped_unauthenticated: int = 0
    dropped_replayed: int = 0
    dropped_version: int = 0
    dropped_revoked: int = 0


@dataclass(frozen=True, slots=True)
class Opened:
    """An authenticated, fresh, well-formed frame."""

    sender_id: bytes
    generation: int
    messages: list[Message]


@dataclass(slots=True)
class _Window:
    generation: int
    top: int
    seen: int  # bit i set: seq top - i was seen
    last: float = field(default=0.0)


def _header(plain: bytes) -> tuple[bytes, int, int, bytes]:
    try:
        header: Any = cbor2.loads(plain)
    except Exception:  # noqa: BLE001 - cbor2 may raise anything on bad input
        raise DecodeError("malformed frame header") from None
    if type(header) is not list or len(header) != 4:
        raise DecodeError("a frame header has four fields")
    sender, generation, seq, body = header
    if type(sender) is not bytes or len(sender) != codec.ID_SIZE:
        raise DecodeError("bad sender id")
    for n in (generation, seq):
        if type(n) is not int or not 0 <= n <= codec.U64:
            raise DecodeError("bad generation or sequence")
    if type(body) is not bytes:
        raise DecodeError("bad body")
    return sender, generation, seq, body


class Wire:
    """Seals outgoing message lists and opens incoming frames for one node life."""

    def __init__(
        self, keyring: Box, node_id: bytes, generation: int, config: MeshConfig | None = None
    ) -> None:
        self._keyring = keyring
        self._node_id = node_id
        self._generation = generation
        self._config = config or MeshConfig()
        self._seq = 0
        self._reliable_seq = RELIABLE_SEQ
        self._windows: dict[tuple[bytes, bool], _Window] = {}
        self._next_sweep: float | None = None
        self._refused: set[bytes] = set()
        self.stats = WireStats()

    def refuse(self, sender_id: bytes) -> None:
        """Drop every later frame from `sender_id` (counted in `dropped_revoked`)."""
        self._refused.add(sender_id)
        self._windows.pop((sender_id, False), None)
        self._windows.pop((sender_id, True), None)

    def seal(self, messages: list[Message] | tuple[Message, ...], reliable: bool = False) -> bytes:
        """One frame carrying `messages`, as a datagram or (`reliable`) a peer-link frame."""
        if reliable:
            self._reliable_seq += 1
            seq = self._reliable_seq
        else:
            self._seq += 1
            seq = self._seq
        plain = cbor2.dumps([self._node_id, self._generation, seq, codec.encode(messages)])
        return bytes([VERSION]) + self._keyring.encrypt(plain)

    def open(self, data: bytes, now: float, reliable: bool = False) -> Opened | None:
        """The frame's sender and messages, or None (counted in `stats`) if it must be dropped."""
        limit = self._config.max_reliable if reliable else self._config.max_datagram
        if len(data) > limit:
            self.stats.dropped_oversized += 1
            return None
        if not data or data[0] != VERSION:
            self.stats.dropped_version += 1
            return None
        try:
            plain = self._keyring.decrypt(bytes(data[1:]))
        except DecryptFailed:
            self.stats.dropped_unauthenticated += 1
            return None
        try:
            sender, generation, seq, body = _header(plain)
            messages = codec.decode(body)
        except DecodeError:
            self.stats.dropped_malformed += 1
            return None
        if self._refused and sender in self._refused:
            self.stats.dropped_revoked += 1
            return None
        if bool(seq & RELIABLE_SEQ) != reliable or not self._accept(sender, generation, seq, now, reliable):
            self.stats.dropped_replayed += 1
            return None
        self.stats.opened += 1
        return Opened(sender, generation, messages)

    def _accept(self, sender: bytes, generation: int, seq: int, now: float, reliable: bool) -> bool:
        self._sweep(now)
        w = self._windows.get((sender, reliable))
        if w is None or generation > w.generation:
            self._windows[(sender, reliable)] = _Window(generation, seq, 1, now)
            return True
        if generation < w.generation:
            return False
        width = RELIABLE_WINDOW if reliable else WINDOW
        if seq > w.top:
            shift = seq - w.top
            w.seen = ((w.seen << shift) | 1) & ((1 << width) - 1) if shift < width else 1
            w.top = seq
        else:
            offset = w.top - seq
            if offset >= width or w.seen >> offset & 1:
                return False
            w.seen |= 1 << offset
        w.last = now
        return True

    def _sweep(self, now: float) -> None:
        if self._next_sweep is None:
            self._next_sweep = now + REPLAY_IDLE
        elif now >= self._next_sweep:
            self._next_sweep = now + REPLAY_IDLE
            self._windows = {k: w for k, w in self._windows.items() if now - w.last < REPLAY_IDLE}
