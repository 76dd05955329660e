"""Protobuf messages sealed into peer-link `Frame`s with the mesh's gossip keyring.

Calls forwarded between nodes, pubsub deliveries and event-stream copies and reads all travel this way,
so only mesh members can make or read them. `unseal` raises the keyring's `IdentityError` for a frame
that does not open and protobuf's `DecodeError` for one that does not parse; callers count and refuse.
"""

from __future__ import annotations

from typing import TypeVar

from google.protobuf.message import Message

from ..identity.keyring import Keyring
from .api.proto import node_pb2

__all__ = ["seal", "unseal"]

_M = TypeVar("_M", bound=Message)


def seal(keyring: Keyring, source: str, message: Message) -> node_pb2.Frame:
    """`message` encrypted under the keyring's primary key, from our advertised address `source`."""
    return node_pb2.Frame(data=keyring.encrypt(message.SerializeToString()), source=source)


def unseal(keyring: Keyring, frame: node_pb2.Frame, kind: type[_M]) -> _M:
    """The `kind` message `frame` carries."""
    return kind.FromString(keyring.decrypt(frame.data))
