"""The mesh protocol core: sans-IO SWIM/Lifeguard membership, gossip, owned state and anti-entropy.

Drivers (the node's asyncio runtime, the simulator) use `MeshCore`, seal and open frames with `Wire`, and
configure it with `MeshConfig`. See docs/architecture.md, "mesh/".
"""

from .config import MeshConfig, Rng
from .core import Counters, MeshCore, Outgoing
from .errors import ClockDriftExceeded, DecodeError, InvalidArgument, MeshError
from .events import (
    Event,
    KvChanged,
    KvPurged,
    KvWriterKnown,
    Member,
    MemberFailed,
    MemberJoined,
    MemberLeft,
    MemberReaped,
    MemberRecovered,
    MemberState,
    MemberSuspected,
    MemberUpdated,
    OwnedStateChanged,
)
from .hlc import HLC, Timestamp
from .membership import MemberTemplate
from .messages import (
    Ack,
    Alive,
    Dead,
    DigestEntry,
    IndirectPing,
    KvDigest,
    KvEntry,
    KvHashes,
    KvWant,
    KvWriter,
    Leave,
    Message,
    MessageType,
    Nack,
    Owned,
    Ping,
    Suspect,
    Sync,
)
from .trust import Credentials, Verifier, sign_alive
from .wire import Opened, Wire, WireStats

__all__ = [
    "HLC",
    "Ack",
    "Alive",
    "ClockDriftExceeded",
    "Counters",
    "Credentials",
    "Dead",
    "DecodeError",
    "DigestEntry",
    "Event",
    "IndirectPing",
    "InvalidArgument",
    "KvChanged",
    "KvDigest",
    "KvEntry",
    "KvHashes",
    "KvPurged",
    "KvWant",
    "KvWriter",
    "KvWriterKnown",
    "Leave",
    "Member",
    "MemberFailed",
    "MemberJoined",
    "MemberLeft",
    "MemberReaped",
    "MemberRecovered",
    "MemberState",
    "MemberSuspected",
    "MemberTemplate",
    "MemberUpdated",
    "MeshConfig",
    "MeshCore",
    "MeshError",
    "Message",
    "MessageType",
    "Nack",
    "Opened",
    "Outgoing",
    "Owned",
    "OwnedStateChanged",
    "Ping",
    "Rng",
    "Suspect",
    "Sync",
    "Timestamp",
    "Verifier",
    "Wire",
    "WireStats",
    "sign_alive",
]
