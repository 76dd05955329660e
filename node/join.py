"""The joiner's side of `micro node join`: ask a member to admit this node, and check what it answers.

The member's side is `Node.admit` with `identity.admission`. The answer must be for the invite's mesh, and
its certificate for this node's key on a chain to that mesh's root; the keyring and config key come sealed
to this node's key.
"""

from __future__ import annotations

import time

import grpc

from ..identity.claims import Chain, Invite
from ..identity.errors import IdentityError
from ..identity.keyring import Keyring
from ..identity.keys import KeyKind, PublicKey, SigningKey
from .api.datadir import MeshFile
from .api.errors import NodeError, PermissionDenied, Unavailable
from .api.proto import node_pb2, node_pb2_grpc
from .kv.config_tree import CONFIG_KEY_SIZE
from .rpc import one_line

__all__ = ["open_join_reply", "request_join"]

_TIMEOUT_S = 10.0


async def request_join(address: str, token: str, key: PublicKey, own_address: str) -> node_pb2.JoinReply:
    """Present `token` and this node's key to the member at `address`; its answer, or a NodeError."""
    request = node_pb2.JoinRequest(token=token, public_key=key.raw, address=own_address)
    async with grpc.aio.insecure_channel(address) as channel:
        try:
            return await node_pb2_grpc.PeerStub(channel).Join(request, timeout=_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            details = exc.details() or ""
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED) and (
                not details or "connect" in details.lower() or "deadline" in details.lower()
            ):
                raise Unavailable(f"cannot reach a node at {address} (is it running, and is that its "
                                  "advertised address?)") from None
            code = exc.code().name if exc.code() is not None else "INTERNAL"
            raise NodeError(f"{address} refused the join: {one_line(details)}", code) from None


def open_join_reply(address: str, invite: Invite, reply: node_pb2.JoinReply, node_key: SigningKey
                    ) -> tuple[MeshFile, Keyring, bytes | None]:
    """The mesh file, gossip keyring and config key (None if the member has none) a join handed over."""
    try:
        root = PublicKey(KeyKind.MESH, reply.mesh)
        if root != invite.mesh:
            raise PermissionDenied(f"{address} belongs to mesh {root.id}, not the invite's mesh {invite.mesh.id}")
        keyring = Keyring.from_bytes(node_key.unseal(reply.sealed_keyring))
        leaf = Chain.decode(reply.chain).verify(root, int(time.time()))
        config_key = node_key.unseal(reply.sealed_config_key) if reply.sealed_config_key else None
    except IdentityError as exc:
        raise Unavailable(f"{address} answered the join with invalid credentials: {exc}") from None
    if leaf.subject != node_key.public:
        raise Unavailable(f"{address} answered the join with a certificate for another node")
    if config_key is not None and len(config_key) != CONFIG_KEY_SIZE:
        raise Unavailable(f"{address} answered the join with a config key of {len(config_key)} bytes")
    return MeshFile(mesh=root.raw, chain=reply.chain, keyring=keyring.to_bytes()), keyring, config_key
