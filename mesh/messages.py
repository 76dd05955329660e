"""Wire messages of the mesh protocol.

Each message is a frozen, slotted dataclass; on the wire it is a CBOR array `[type, field, ...]` in the
field order declared here (see `codec.py`). Node ids are the raw 32-byte ed25519 public keys and every
number is an unsigned integer, so a ping with its ack fits in a few dozen bytes and many rumours fit one
datagram.

- `Ping`/`Ack`/`IndirectPing`/`Nack` are the SWIM failure detector (nacks are Lifeguard's: a relay that
  got no answer says so, which tells the prober its own links are fine). Pings also carry tags of recent
  rumours, so a node that missed one gets it on the ack.
- `Alive`, `Leave` and `Owned` are signed by the node they are about (see `trust.py`), so no relay can
  forge them. `Suspect` and `Dead` are statements by another member (`accuser`), authenticated by the
  gossip key only.
- A node's claims are ordered by (generation, incarnation); owned entries by (generation, counter).
- `Sync` is push-pull anti-entropy (see `sync.py`): a view hash, optionally a scuttlebutt digest, and a
  reply flag; the claims a peer lacks travel as ordinary messages in the same frame.
- `KvEntry` is one register of the shared key-value map, signed by its writer; `KvWriter` hands over a
  writer's certificate chain with entries whose writer the receiver may not know. `KvHashes`, `KvDigest`
  and `KvWant` walk the map's two-level hash tree in anti-entropy (see `kvsync.py`).

Every message class derives from `Encodable`, whose slots are where `codec.encode_one` and
`codec.rumour_tag` keep the message's encoding and tag, and `membership` the record a claim or
statement makes: messages are immutable and a rumour is sized,
tagged and forwarded many times (in the simulator, by thousands of cores sharing one object), so each is
computed once.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .membership import MemberRecord

__all__ = [
    "Ack",
    "Alive",
    "Dead",
    "DigestEntry",
    "Encodable",
    "IndirectPing",
    "KvDigest",
    "KvEntry",
    "KvHashes",
    "KvWant",
    "KvWriter",
    "Leave",
    "Message",
    "MessageType",
    "Nack",
    "Owned",
    "Ping",
    "Suspect",
    "Sync",
]


class MessageType(IntEnum):
    """Message type numbers. Append only: the numbers are part of the protocol."""

    PING = 1
    INDIRECT_PING = 2
    ACK = 3
    NACK = 4
    ALIVE = 5
    SUSPECT = 6
    DEAD = 7
    LEAVE = 8
    OWNED = 9
    SYNC = 10
    KV_ENTRY = 11
    KV_WRITER = 12
    KV_HASHES = 13
    KV_DIGEST = 14
    KV_WANT = 15


class Encodable:
    """Base of the message classes: slots for the cached encoding and rumour tag, and for claims and
    statements the member record they make (see `membership`); not fields, no part of equality."""

    __slots__ = ("encoding", "record", "tag")
    encoding: bytes
    record: MemberRecord
    tag: bytes


@dataclass(frozen=True, slots=True)
class Ping(Encodable):
    """Are you alive? `target` is the id the sender expects to answer (a stale address is detected).

    `recent` is the concatenated 4-byte tags of the rumours the sender learned lately; the target
    piggybacks the recent rumours whose tags are missing on its ack (pull repair, see `broadcast.py`).
    """

    seq: int
    target: bytes
    recent: bytes = b""


@dataclass(frozen=True, slots=True)
class IndirectPing(Encodable):
    """Please ping `target` at `address` for me and ack (or nack) `seq` back to me."""

    seq: int
    target: bytes
    address: str


@dataclass(frozen=True, slots=True)
class Ack(Encodable):
    """Answer to the ping (or indirect ping) numbered `seq`.

    `recent` is None normally; when the ping named rumours the answering node lacks, it holds that node's
    own recent tags, and the prober sends back what is missing (so repair works in both directions).
    """

    seq: int
    recent: bytes | None = None


@dataclass(frozen=True, slots=True)
class Nack(Encodable):
    """A relay's answer to an indirect ping whose target did not ack in time."""

    seq: int


@dataclass(frozen=True, slots=True)
class Alive(Encodable):
    """A node's signed claim that it lives at `address`; `chain` is its certificate chain."""

    node_id: bytes
    address: str
    generation: int
    incarnation: int
    chain: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class Suspect(Encodable):
    """`accuser` could not reach `node_id` in its life (generation, incarnation)."""

    node_id: bytes
    generation: int
    incarnation: int
    accuser: bytes


@dataclass(frozen=True, slots=True)
class Dead(Encodable):
    """`accuser` declares `node_id` dead in its life (generation, incarnation)."""

    node_id: bytes
    generation: int
    incarnation: int
    accuser: bytes


@dataclass(frozen=True, slots=True)
class Leave(Encodable):
    """The node's own signed statement that it left the mesh."""

    node_id: bytes
    generation: int
    incarnation: int
    signature: bytes


@dataclass(frozen=True, slots=True)
class Owned(Encodable):
    """One entry of a node's owned state, signed by the node; `value` None is a deletion."""

    node_id: bytes
    generation: int
    counter: int
    key: str
    value: bytes | None
    signature: bytes


class DigestEntry(NamedTuple):
    """What a node knows about one member, in a scuttlebutt digest."""

    node_id: bytes
    generation: int
    incarnation: int
    state: int
    owned_generation: int
    owned_counter: int


@dataclass(frozen=True, slots=True)
class Sync(Encodable):
    """Push-pull anti-entropy.

    `view_hash` summarises the sender's whole view. Without a digest the message offers the hash; the
    receiver answers only if its own hash differs. With a digest the receiver sends back the claims the
    sender lacks, and, when `reply` is set, its own digest so the sender can do the same.
    """

    reply: bool
    view_hash: bytes
    digest: tuple[DigestEntry, ...] | None


@dataclass(frozen=True, slots=True)
class KvEntry(Encodable):
    """One register of the shared key-value map: the value written to (db, table, key) at an HLC stamp.

    `value` None is a tombstone (a delete). `expire_at` is wall-clock milliseconds, 0 for never; an
    expired entry reads as absent. Registers are ordered by `stamp` (physical, logical, writer), the later
    wins everywhere. The signature, by `writer`, covers every other field (see `trust.py`).
    """

    db: str
    table: str
    key: str
    value: bytes | None
    expire_at: int
    physical_ms: int
    logical: int
    writer: bytes
    signature: bytes

    @property
    def stamp(self) -> tuple[int, int, bytes]:
        return (self.physical_ms, self.logical, self.writer)


@dataclass(frozen=True, slots=True)
class KvWriter(Encodable):
    """A writer's certificate chain, sent along with its entries so a receiver can admit the writer."""

    node_id: bytes
    chain: bytes


@dataclass(frozen=True, slots=True)
class KvHashes(Encodable):
    """One level of the sender's key-value hash tree, offered for comparison.

    `level` 0 is the root (`hashes` one 8-byte hash), 1 the group hashes, 2 the bucket hashes of group
    `index`. `horizon` is the sender's replication horizon in wall-clock ms (see `kvsync.py`).
    """

    level: int
    index: int
    hashes: bytes
    horizon: int


@dataclass(frozen=True, slots=True)
class KvDigest(Encodable):
    """The sender's entries in one bucket: concatenated (16-byte key id, 8-byte entry hash) records.

    `watermark` is the sender's collection watermark in wall-clock ms (0: nothing collected): what it
    lacks stamped below it was collected there (see `kv.py`).
    """

    bucket: int
    records: bytes
    watermark: int = 0


@dataclass(frozen=True, slots=True)
class KvWant(Encodable):
    """Key ids (concatenated, 16 bytes each) whose entries the sender asks for."""

    key_ids: bytes


Message = (
    Ping | IndirectPing | Ack | Nack | Alive | Suspect | Dead | Leave | Owned | Sync
    | KvEntry | KvWriter | KvHashes | KvDigest | KvWant
)
