"""The node's implementations of the core's `Credentials` (this node) and `Verifier` (everyone else).

Signatures are ed25519 through `identity`; the node's policy on registers (`accepts`) is the node's auth. Admission checks that a member's certificate chain leads
to the mesh root at the current wall-clock time and that its leaf certifies exactly that member's key, and
that the node's auth holds no revocation of that key (`revoked`, asked every time: a revocation is in force
at once, whatever was cached). A chain is checked once and the answer cached until the first certificate in
it expires, so the cost is paid once per member and not once per packet.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable

from ..identity.claims import Chain
from ..identity.errors import IdentityError
from ..identity.keys import KeyKind, PublicKey, SigningKey, verify_raw
from ..mesh.messages import KvEntry

__all__ = ["NodeCredentials", "NodeVerifier"]

# Distinct (node, chain) pairs remembered; a mesh of thousands fits, a flood of junk chains does not grow it.
_CACHE_SIZE = 4096


class NodeCredentials:
    """This node's key and chain, as the core signs with them."""

    def __init__(self, key: SigningKey, chain: bytes) -> None:
        self._key = key
        self.node_id: bytes = key.public.raw
        self.chain: bytes = chain

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)


class NodeVerifier:
    """Checks other members' signatures and chains against one mesh root."""

    def __init__(self, root: PublicKey, accepts: Callable[[KvEntry, KvEntry | None], bool],
                 revoked: Callable[[bytes], bool], clock: Callable[[], float] = time.time) -> None:
        if root.kind is not KeyKind.MESH:
            raise ValueError("the verifier needs a mesh root key")
        self.root = root
        self.accepts = accepts
        self._revoked = revoked
        self._clock = clock
        # (node_id, chain) -> (admitted, valid_until)
        self._cache: collections.OrderedDict[tuple[bytes, bytes], tuple[bool, float]] = collections.OrderedDict()

    def verify(self, node_id: bytes, data: bytes, signature: bytes) -> bool:
        return verify_raw(node_id, data, signature)

    def admit(self, node_id: bytes, chain: bytes) -> bool:
        if self._revoked(node_id):
            return False
        now = self._clock()
        key = (node_id, chain)
        cached = self._cache.get(key)
        if cached is not None and now < cached[1]:
            self._cache.move_to_end(key)
            return cached[0]
        admitted, until = self._check(node_id, chain, int(now))
        self._cache[key] = (admitted, until)
        self._cache.move_to_end(key)
        while len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return admitted

    def _check(self, node_id: bytes, chain: bytes, now: int) -> tuple[bool, float]:
        # A refusal is remembered briefly only: a chain "not yet valid" because of clock skew may
        # become valid, and remembering junk for long would let it fill the cache.
        try:
            decoded = Chain.decode(chain)
            leaf = decoded.verify(self.root, now)
        except IdentityError:
            return False, now + 60.0
        if leaf.subject.raw != node_id or leaf.subject.kind is not KeyKind.NODE:
            return False, now + 60.0
        return True, float(min(cert.expires_at for cert in decoded))
