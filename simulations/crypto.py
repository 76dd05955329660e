"""Cheap credentials for simulated nodes: keyed BLAKE2b in place of ed25519 and certificate chains.

A `SimRegistry` plays the mesh root. It derives, from its seed, a 32-byte node id and a 32-byte secret for
every node it enrols, and hands out a `SimCredentials` (this node: id, chain, `sign`) that signs with
BLAKE2b keyed by the node's secret. The "chain" is a fixed-size blob holding the node id and a tag keyed
by the registry's own secret, sized like a one-certificate ed25519 chain so that byte counts stay honest.
One `SimVerifier`, shared by every simulated core, recomputes the keyed hash from the registry's table to
verify a signature, and admits a node only if it was enrolled and presents exactly the chain the registry
issued. So signing is a hash call instead of a curve operation, and a claim forged without the node's
secret, or made up for a node that was never enrolled, is still refused.

Auth records are the exception: they are signed by people (the mesh root, admins), not by nodes, so they
are real. The registry holds a real ed25519 mesh root key (`auth_root`, from its seed), and the verifier
checks every register of the reserved `auth` database as a node does, with `identity.authstate.accept`
against that root at the virtual wall time (`VirtualClock.wall`): a record that does not chain to the
root through admins, or would replace a newer one, is refused and never installed.
"""

from __future__ import annotations

import hashlib
import hmac

from ..identity.authstate import accept
from ..identity.errors import IdentityError
from ..identity.keys import KeyKind, SigningKey
from ..identity.records import AUTH_DB
from ..mesh.messages import KvEntry
from .agenda import VirtualClock

__all__ = ["CHAIN_SIZE", "SIGNATURE_SIZE", "SimCredentials", "SimRegistry", "SimVerifier"]

SIGNATURE_SIZE = 64
"""Bytes in a simulated signature: the size of an ed25519 signature, so encoded sizes match the node's."""

CHAIN_SIZE = 224
"""Bytes in a simulated chain: about one encoded certificate (claims map, three raw keys, signature)."""

_CHAIN_MAGIC = b"simchain"


def _derive(seed: int, label: bytes, index: int) -> bytes:
    """A 32-byte value derived from the registry seed, a label and a node index."""
    material = seed.to_bytes(16, "big", signed=True) + label + index.to_bytes(8, "big")
    return hashlib.blake2b(material, digest_size=32, person=b"micro-sim").digest()


class SimCredentials:
    """This node's identity in a simulation: implements the core's `Credentials` protocol."""

    __slots__ = ("_secret", "chain", "node_id")

    def __init__(self, node_id: bytes, chain: bytes, secret: bytes) -> None:
        self.node_id = node_id
        self.chain = chain
        self._secret = secret

    def sign(self, data: bytes) -> bytes:
        """Keyed BLAKE2b of `data` under this node's secret, 64 bytes like an ed25519 signature."""
        return hashlib.blake2b(data, key=self._secret, digest_size=SIGNATURE_SIZE).digest()


class SimVerifier:
    """Everyone else, as the simulated mesh sees them: implements the core's `Verifier` protocol.

    It reads the registry's table live, so a node enrolled after the verifier was made is known to it.
    """

    __slots__ = ("_clock", "_registry")

    def __init__(self, registry: SimRegistry, clock: VirtualClock) -> None:
        self._registry = registry
        self._clock = clock

    def verify(self, node_id: bytes, data: bytes, signature: bytes) -> bool:
        """True if `signature` is the keyed hash of `data` under the enrolled secret of `node_id`."""
        secret = self._registry.secrets.get(node_id)
        if secret is None or len(signature) != SIGNATURE_SIZE:
            return False
        expected = hashlib.blake2b(data, key=secret, digest_size=SIGNATURE_SIZE).digest()
        return hmac.compare_digest(expected, signature)

    def admit(self, node_id: bytes, chain: bytes) -> bool:
        """True if `node_id` was enrolled and `chain` is the chain the registry issued to it."""
        issued = self._registry.chains.get(node_id)
        return issued is not None and hmac.compare_digest(issued, chain)

    def accepts(self, entry: KvEntry, held: KvEntry | None) -> bool:
        """Every correctly signed register, except an auth record the node's check refuses (see the
        module docstring); like the node, never a delete or an expiring register of the `auth` database."""
        if entry.db != AUTH_DB:
            return True
        if entry.value is None or entry.expire_at:
            return False
        try:
            accept(entry.value, entry.table, entry.key, self._registry.auth_root.public, int(self._clock.wall()),
                   held.value if held is not None else None)
        except IdentityError:
            return False
        return True


class SimRegistry:
    """The simulated mesh root: enrols nodes by index and remembers their secrets."""

    __slots__ = ("_root_secret", "auth_root", "chains", "secrets", "seed")

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.secrets: dict[bytes, bytes] = {}
        self.chains: dict[bytes, bytes] = {}
        self._root_secret = _derive(seed, b"root", 0)
        self.auth_root = SigningKey.from_seed(KeyKind.MESH, _derive(seed, b"auth-root", 0))
        """The mesh root key that signs auth records (real ed25519: records are checked as a node does)."""

    def node_id(self, index: int) -> bytes:
        """The 32-byte id node `index` has (whether or not it is enrolled yet)."""
        return _derive(self.seed, b"node", index)

    def enroll(self, index: int) -> SimCredentials:
        """Enrol node `index` (idempotent) and return its credentials."""
        node_id = self.node_id(index)
        secret = _derive(self.seed, b"secret", index)
        chain = self.chain_for(node_id)
        self.secrets[node_id] = secret
        self.chains[node_id] = chain
        return SimCredentials(node_id, chain, secret)

    def chain_for(self, node_id: bytes) -> bytes:
        """The chain the registry issues to `node_id`: magic, id, tag under the root secret, padding."""
        tag = hashlib.blake2b(node_id, key=self._root_secret, digest_size=32).digest()
        body = _CHAIN_MAGIC + node_id + tag
        return body + bytes(CHAIN_SIZE - len(body))

    def verifier(self, clock: VirtualClock) -> SimVerifier:
        """A verifier over this registry, dating its checks by `clock` (one can be shared by every core)."""
        return SimVerifier(self, clock)
