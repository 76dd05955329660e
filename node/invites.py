"""Invite redemption on the node: an invite admits at most one node mesh-wide, whichever members it is
presented to.

Every invite names its redeemer (`Invite.redeemer`): the node that made it with `micro node invite`,
whether it signed with its own key or with the mesh root's it holds. The redeemer alone decides which
joiner the invite admits (`identity.redemption.redeem`): the first one it is asked about, then that one
again (a retry) and no other. A member asked to admit a joiner (`Node.admit`) checks the invite and what
it may certify first, then asks the redeemer, locally when that is itself and otherwise over the peer API
(`Peer.RedeemInvite`: the token and the joiner's key sealed with the mesh keyring, answered, sealed, with
the nonce and the key echoed), and certifies the joiner only once the redeemer agreed.

The redeemer writes each redemption to `invites.cbor` in its data dir, fsynced, before it answers, so
neither a restart nor a crash re-opens an invite; a record is kept until the invite's expiry plus
`INVITE_SKEW`, the last second the redeemer itself accepts the invite, then pruned. A redeemer that is not
a live member, or does not answer, fails the join with UNAVAILABLE: no other node knows whether the
invite was used, so the joiner needs a new invite from a live member.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import grpc
from google.protobuf.message import DecodeError

from ..identity.claims import Invite
from ..identity.errors import IdentityError
from ..identity.keyring import Keyring
from ..identity.keys import KeyKind, PublicKey
from ..identity.redemption import redeem
from .api.datadir import DataDir
from .api.errors import InvalidArgument, NodeError, Unavailable
from .api.proto import node_pb2, node_pb2_grpc
from .frames import seal, unseal
from .rpc import one_line
from .transport import NetTransport

__all__ = ["Invites"]

# Within the joiner's own wait for the member (10 s), so it hears why rather than a timeout.
_REDEEM_TIMEOUT_S = 5.0
_LIVE_STATES = ("alive", "suspect")


class Invites:
    """The redemptions this node decides for the invites it made, and asking other redeemers."""

    def __init__(self, data_dir: DataDir, node: PublicKey, mesh: Callable[[], PublicKey],
                 keyring: Callable[[], Keyring], transport: NetTransport,
                 members: Callable[[], list[dict[str, Any]]]) -> None:
        self._data_dir = data_dir
        self._node = node
        self._mesh = mesh
        self._keyring = keyring
        self._transport = transport
        self._members = members
        self._records = data_dir.load_redemptions()

    async def redeem(self, invite: Invite, joiner: PublicKey) -> None:
        """Return once the invite's redeemer agreed that `invite` admits `joiner`; raise a NodeError
        saying why not (already used, expired, the redeemer unreachable)."""
        if invite.redeemer == self._node:
            self._record(invite, joiner)
            return
        unreachable = Unavailable(f"the node that issued this invite ({invite.redeemer.id[:12]}…) is "
                                  "unreachable; ask a live member for a new invite")
        address = self._address_of(invite.redeemer)
        if not address:
            raise unreachable
        request = node_pb2.RedeemInviteRequest(token=invite.to_token(), joiner=joiner.raw)
        stub = node_pb2_grpc.PeerStub(self._transport.channel(address))
        try:
            frame = await stub.RedeemInvite(seal(self._keyring(), self._transport.source, request),
                                            timeout=_REDEEM_TIMEOUT_S)
        except grpc.aio.AioRpcError as exc:
            if exc.code() == grpc.StatusCode.UNAVAILABLE:
                # A fresh channel connects at once next time, rather than after the reconnect backoff.
                self._transport.evict(address)
            if exc.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                raise unreachable from None
            raise NodeError(one_line(exc.details() or ""), exc.code().name) from None
        try:
            reply = unseal(self._keyring(), frame, node_pb2.RedeemInviteReply)
        except (IdentityError, DecodeError):
            reply = node_pb2.RedeemInviteReply()
        if reply.nonce != invite.nonce or reply.joiner != joiner.raw:
            raise Unavailable(f"the node that issued this invite ({invite.redeemer.id[:12]}…) answered at "
                              f"{address} with something that is not this invite's redemption")

    def serve(self, frame: node_pb2.Frame) -> node_pb2.Frame:
        """`Peer.RedeemInvite`: decide, as the invite's redeemer, whether it admits the joiner."""
        try:
            request = unseal(self._keyring(), frame, node_pb2.RedeemInviteRequest)
            invite = Invite.from_token(request.token)
            joiner = PublicKey(KeyKind.NODE, request.joiner)
        except (IdentityError, DecodeError) as exc:
            raise InvalidArgument(f"a redemption from {frame.source or 'a peer'} does not open: {exc}"
                                  ) from None
        if invite.redeemer != self._node:
            raise NodeError(f"this node is not the redeemer of that invite ({invite.redeemer.id[:12]}…)",
                            "FAILED_PRECONDITION")
        # Checked here too: only invites this node made, still valid on its own clock, are recorded.
        invite.verify(self._mesh(), int(time.time()))
        self._record(invite, joiner)
        return seal(self._keyring(), self._transport.source,
                    node_pb2.RedeemInviteReply(nonce=invite.nonce, joiner=joiner.raw))

    def _record(self, invite: Invite, joiner: PublicKey) -> None:
        """Decide and make the decision durable before anyone hears it (no await: one decision at a time)."""
        changed = redeem(self._records, invite.nonce, joiner.raw, invite.expires_at, int(time.time()))
        if changed is not None:
            self._data_dir.save_redemptions(changed)
            self._records = changed

    def _address_of(self, node: PublicKey) -> str:
        """The address of member `node` if it is live ("" if not)."""
        return next((m["address"] for m in self._members()
                     if m["id"] == node.id and m["state"] in _LIVE_STATES and not m["self"]), "")

