"""What a node does when the auth records revoke a node key: cut that node off, and rotate the gossip keyring.

A node revocation is a `Revocation` record of an N… key signed by an admin, with a `Seal` record for each
remaining member: a new 32-byte gossip key sealed to that member's node key (`sdk.auth.Client.revoke`
makes them, and submits them together). `NodeRevocations.apply` runs on every new auth state.

Refusal, at once, of every revoked node key: the runtime's wire drops its gossip frames and its core
declares it dead and refuses its alive claims (`Runtime.revoke`, counted `wire.dropped_revoked` and
`core.dropped_revoked`); the verifier no longer admits it (`NodeVerifier`, asking `Auth.node_revoked`);
peer-API frames (calls, pubsub, streams) naming its address as their source are refused (`refuses`,
counted `revocation.frames_refused`) until the rotation completes; a joiner with its key is refused; and
its key-value registers stamped at or after the revocation are refused (`Auth.accepts`). The sender of a
gossip frame and the source of a peer-API frame are authenticated by the keyring alone, so until the
rotation completes this holds against a revoked node that runs the protocol as written.

Rotation, in three steps `keyring_rotation_delay` apart (about one dissemination time of a register): the
member adds the key sealed to it by the latest node revocation (latest by revocation time, then key id:
the same one on every member); makes it primary once every member holds it; and removes every other key
once nobody sends with them. Then the revoked node can neither read nor make a frame: its later frames
are counted `wire.dropped_unauthenticated`. Each step is saved in mesh.cbor, and the keyring itself says
where a rotation stands (the key it rotates to is the sealed one, or else the newest), so a restart
resumes it, and a member that joined during one (its join reply carries the keyring as it was: the new key
added, maybe not yet primary) follows it. Only the latest node revocation's seal counts: a member it has
no seal for (one that joined since, or the revoked node itself) adds nothing, and an older seal, whose key
a later rotation removed, is never applied again.

A member that is down from before the new key reaches it until the old one is removed cannot read the
others when it comes back: it joins again with an invite (`micro node join`), which hands it the keyring.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from ...identity.authstate import AuthState
from ...identity.errors import IdentityError
from ...identity.keyring import Keyring
from ...identity.keys import KeyKind, PublicKey, SigningKey
from ..log import Logger
from ..runtime import Runtime

__all__ = ["NodeRevocations"]


class NodeRevocations:
    """The revoked node keys one core refuses, and the keyring rotation that follows a node revocation."""

    def __init__(self, node_key: SigningKey, keyring: Keyring, save: Callable[[], None], runtime: Runtime,
                 delay: float, logger: Logger) -> None:
        self._node_key = node_key
        self._ring = keyring
        self._save = save
        self._runtime = runtime
        self._delay = delay
        self._log = logger
        self._revoked: set[bytes] = set()
        self._sources: set[str] = set()
        self._target: bytes | None = None
        """Id of the key the ring rotates to, once a seal named it (else the ring's newest key)."""
        self._opened: tuple[bytes, bytes] | None = None
        """The last seal opened and its key: states are rebuilt on every auth change, a seal opens once."""
        self._timer: asyncio.TimerHandle | None = None
        self._refused_frames = 0

    def apply(self, state: AuthState) -> None:
        """Cut off the node keys `state` revokes that were not yet, and follow its latest seal to us."""
        nodes = [(at, key) for key, at in state.revocations.items() if key.kind is KeyKind.NODE]
        for _, key in nodes:
            if key.raw not in self._revoked:
                self._cut_off(key)
        if nodes:
            _, latest = max(nodes, key=lambda node: (node[0], node[1].id))
            sealed = self._sealed_key(state, latest)
            if sealed is not None:
                self._add(sealed, latest)
        self._schedule()

    def refuses(self, source: str) -> bool:
        """Whether a peer-API frame from advertised address `source` comes from a revoked member (counted)."""
        if source in self._sources:
            self._refused_frames += 1
            return True
        return False

    def close(self) -> None:
        """Stop rotating (the node builds a new core, with its own revocations)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def counters(self) -> dict[str, int]:
        """`keyring.primary` is the primary key's 4-byte id as an integer (big-endian)."""
        return {"keyring.keys": len(self._ring.key_ids),
                "keyring.primary": int.from_bytes(self._ring.primary_id, "big"),
                "revocation.nodes": len(self._revoked),
                "revocation.frames_refused": self._refused_frames}

    # ---- refusal --------------------------------------------------------------------------------

    def _cut_off(self, key: PublicKey) -> None:
        self._revoked.add(key.raw)
        if key == self._node_key.public:
            self._log.error("node.revoked_self", node=key.id)
            return
        address = self._runtime.member_address(key.raw)
        if address:
            self._sources.add(address)
        self._runtime.revoke(key.raw)
        self._log.warning("node.revoked", node=key.id, address=address)

    # ---- rotation -------------------------------------------------------------------------------

    def _sealed_key(self, state: AuthState, revoked: PublicKey) -> bytes | None:
        """The gossip key the seal of `revoked`'s revocation to this node holds (None: no such seal)."""
        me = self._node_key.public
        seal = next((s for s in state.seals if s.revoked == revoked and s.to == me), None)
        if seal is None:
            return None
        if self._opened is not None and self._opened[0] == seal.box:
            return self._opened[1]
        try:
            key = self._node_key.unseal(seal.box)
        except IdentityError as exc:
            self._log.error("keyring.seal_unreadable", revoked=revoked.id, error=str(exc))
            return None
        self._opened = (seal.box, key)
        return key

    def _add(self, key: bytes, revoked: PublicKey) -> None:
        known = self._ring.key_ids
        try:
            self._target = self._ring.add(key)
        except IdentityError as exc:
            self._log.error("keyring.key_refused", revoked=revoked.id, error=str(exc))
            return
        if self._target not in known:
            self._save()
            self._log.info("keyring.key_added", key=self._target.hex(), revoked=revoked.id)

    def _target_id(self) -> bytes:
        ids = self._ring.key_ids
        return self._target if self._target is not None and self._target in ids else ids[-1]

    def _schedule(self) -> None:
        ring = self._ring
        rotating = ring.primary_id != self._target_id() or len(ring.key_ids) > 1
        if rotating and self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._delay, self._step)

    def _step(self) -> None:
        """The next step of the rotation: the new key primary, or (once it is) the others removed."""
        self._timer = None
        ring, target = self._ring, self._target_id()
        if ring.primary_id != target:
            ring.use(target)
            self._log.info("keyring.primary_changed", key=target.hex())
        else:
            for key_id in ring.key_ids:
                if key_id != target:
                    ring.remove(key_id)
            # No one can make a frame under the old keys now: the keyring refuses a revoked member on its
            # own, and its address may go to a new member.
            self._sources.clear()
            self._log.info("keyring.rotated", key=target.hex())
        self._save()
        self._schedule()
