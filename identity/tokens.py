"""Access tokens and the challenge that gets one: no secret crosses the wire.

A client asks a node for a challenge (a random nonce), signs `challenge_payload(mesh, node, nonce,
account)` with its account key and sends the signature back; the node checks it against the account's
record and issues an `AccessToken`: a claim set (account, name, scopes, mesh, validity) signed by the
node, carrying the node's certificate chain, so any node verifies it offline. The payload names the mesh,
the node and the account, so an answer is good for one challenge of one node and cannot be replayed
elsewhere; `Challenges` lets each nonce be answered once, within `CHALLENGE_TTL`.

A token is printed as URL-safe base64 (`to_text`), for `Authorization: Bearer`. Its checks are split so a
gateway can cache the costly one: `verify_signed` (signatures and chain, the same answer until the chain
expires) and `check_live` (expiry and revocations, a few dict lookups, on every use).
"""

from __future__ import annotations

import collections
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

from . import _cbor
from ._text import from_text, to_text
from .claims import Chain, _check_period, _check_validity, _split_signed
from .errors import BadSignature, Expired, InvalidChain, Malformed
from .keys import KeyKind, PublicKey, SigningKey
from .records import Account, Revocations, check_scopes

__all__ = ["CHALLENGE_TTL", "NONCE_SIZE", "TOKEN_SKEW", "AccessToken", "Challenges", "answer_challenge",
           "challenge_payload", "check_challenge"]

TOKEN_SKEW = 30
"""Seconds a token is still taken after its expiry (clock skew between the issuing and checking nodes)."""
CHALLENGE_TTL = 60
NONCE_SIZE = 32
MAX_TOKEN_TTL = 30 * 86400
_FIELDS = frozenset({"typ", "iss", "iss_kind", "sub", "sub_kind", "name", "scopes", "mesh", "iat", "exp"})


def challenge_payload(mesh: PublicKey, node: PublicKey, nonce: bytes, account: PublicKey) -> bytes:
    """The bytes an account signs to answer `node`'s challenge `nonce` (domain-tagged, bound to all four)."""
    return _cbor.dumps(["micro/challenge", mesh.raw, node.raw, nonce, account.raw])


def answer_challenge(account_key: SigningKey, mesh: PublicKey, node: PublicKey, nonce: bytes) -> bytes:
    """The signature that answers `node`'s challenge `nonce` for the account of `account_key`."""
    return account_key.sign(challenge_payload(mesh, node, nonce, account_key.public))


def check_challenge(account: PublicKey, mesh: PublicKey, node: PublicKey, nonce: bytes, signature: bytes) -> None:
    """Raise `BadSignature` unless `signature` is `account`'s answer to `node`'s challenge `nonce`."""
    if not account.verify_ok(challenge_payload(mesh, node, nonce, account), signature):
        raise BadSignature("challenge answer does not verify under the account's key")


class Challenges:
    """Nonces this node handed out and not yet answered; each can be answered once, within the TTL.

    Sans-IO: the caller passes the nonce (random) and the time. At most `limit` are outstanding; beyond
    it the oldest is forgotten, so a flood of requests costs bounded memory.
    """

    def __init__(self, limit: int = 10_000) -> None:
        self._pending: collections.OrderedDict[bytes, int] = collections.OrderedDict()
        self._limit = limit

    def issue(self, nonce: bytes, now: int) -> bytes:
        if len(nonce) != NONCE_SIZE:
            raise Malformed(f"a challenge nonce is {NONCE_SIZE} bytes")
        self._pending[nonce] = now + CHALLENGE_TTL
        while len(self._pending) > self._limit:
            self._pending.popitem(last=False)
        return nonce

    def redeem(self, nonce: bytes, now: int) -> None:
        """Take `nonce` out of the pending set; raises `Expired` if it is unknown, used or too old."""
        due = self._pending.pop(nonce, None)
        if due is None:
            raise Expired("challenge is unknown or already answered; ask for a new one")
        if now > due:
            raise Expired("challenge expired; ask for a new one")

    def __len__(self) -> int:
        return len(self._pending)


@dataclass(frozen=True)
class AccessToken:
    """`issuer` (a node) says `account` holds `scopes` from `issued_at` to `expires_at` in mesh `mesh`."""

    account: PublicKey
    name: str
    scopes: tuple[str, ...]
    mesh: PublicKey
    issued_at: int
    expires_at: int
    issuer: PublicKey
    signature: bytes
    issuer_chain: Chain

    @classmethod
    def issue(cls, node_key: SigningKey, chain: Chain, mesh: PublicKey, account: Account, now: int,
              ttl: int) -> AccessToken:
        """A token for `account` valid for `ttl` seconds from `now` (never past the account's expiry)."""
        if node_key.kind is not KeyKind.NODE:
            raise Malformed("access tokens are issued by nodes")
        if not 0 < ttl <= MAX_TOKEN_TTL:
            raise Malformed(f"a token lasts 1 second to {MAX_TOKEN_TTL // 86400} days")
        if account.expires_at:
            if account.expires_at <= now:
                raise Expired(f"account {account.name} has expired")
            ttl = min(ttl, account.expires_at - now)
        _check_period(now, ttl)
        unsigned = cls(account.key, account.name, account.scopes, mesh, now, now + ttl, node_key.public, b"", chain)
        return replace(unsigned, signature=node_key.sign(unsigned.signed_bytes()))

    def signed_bytes(self) -> bytes:
        claims: dict[str, Any] = {
            "typ": "token", "iss": self.issuer.raw, "iss_kind": self.issuer.kind.value, "sub": self.account.raw,
            "sub_kind": self.account.kind.value, "name": self.name, "scopes": list(self.scopes),
            "mesh": self.mesh.raw, "iat": self.issued_at, "exp": self.expires_at,
        }
        return _cbor.dumps(claims)

    def encode(self) -> bytes:
        """CBOR `[[claims, signature], chain]`."""
        return _cbor.dumps([_cbor.dumps([self.signed_bytes(), self.signature]), self.issuer_chain.encode()])

    @classmethod
    def decode(cls, data: bytes) -> AccessToken:
        """Parse `encode()` output; raises `Malformed`. Checks no signature (see `verify_signed`)."""
        outer = _cbor.loads(data, "access token")
        if not isinstance(outer, list) or len(outer) != 2 or not all(isinstance(x, bytes) for x in outer):
            raise Malformed("access token does not hold claims and a chain")
        claims, signature = _split_signed(outer[0], "access token", "token", _FIELDS)
        iat, exp = claims.period()
        name, scopes = claims.map["name"], claims.map["scopes"]
        if not isinstance(name, str) or not isinstance(scopes, list):
            raise Malformed("access token has a bad name or scopes")
        try:
            checked = check_scopes(scopes)
        except TypeError:
            raise Malformed("access token scopes are not names") from None
        if list(checked) != scopes:
            raise Malformed("access token scopes are not in canonical order")
        account, issuer = claims.key("sub"), claims.key("iss")
        if account.kind is not KeyKind.ACCOUNT or issuer.kind is not KeyKind.NODE:
            raise Malformed("access token is not a node's claim about an account")
        return cls(account, name, checked, claims.key("mesh", KeyKind.MESH), iat, exp, issuer, signature,
                   Chain.decode(outer[1]))

    def to_text(self) -> str:
        return to_text(self.encode())

    @classmethod
    def from_text(cls, text: str) -> AccessToken:
        return cls.decode(from_text(text, "access token"))

    def verify_signed(self, root: PublicKey, now: int) -> None:
        """Check the signature, the mesh and the issuer's chain to `root` at `now`.

        Raises `BadSignature` (altered), `InvalidChain` (another mesh, or an issuer not certified).
        """
        if not self.issuer.verify_ok(self.signed_bytes(), self.signature):
            raise BadSignature("access token signature does not verify (altered or forged)")
        if self.mesh != root:
            raise InvalidChain("access token is for another mesh")
        if self.issuer_chain.verify(root, now).subject != self.issuer:
            raise InvalidChain("access token issuer is not the node its chain certifies")

    def check_live(self, now: int, revocations: Revocations) -> None:
        """Raise `Expired` outside the validity (`TOKEN_SKEW` allowed), `InvalidChain` if the account, the
        issuing node or a certificate of its chain was revoked since the token was issued, or a certificate
        of the chain was issued for or by a key at or before its revocation."""
        _check_validity("access token", self.issued_at, self.expires_at, now, TOKEN_SKEW)
        if not len(revocations):
            return
        for key in self.keys():
            if revocations.dead(key, self.issued_at):
                raise InvalidChain(f"access token was issued before {key.id[:12]}… was revoked")
        # The token's time is its node's say, and a revoked node's stolen key dates tokens after the revocation;
        # a certificate's time is its certifier's, so the certificates issued before a revocation die with it.
        for cert in self.issuer_chain:
            for key in (cert.issuer, cert.subject):
                if revocations.dead(key, cert.issued_at):
                    raise InvalidChain(f"access token issuer's certificate for {cert.subject.id[:12]}… was issued "
                                       f"before {key.id[:12]}… was revoked")

    def keys(self) -> Iterable[PublicKey]:
        """The keys whose revocation kills the token: the account, the issuer and its chain."""
        yield self.account
        yield self.issuer
        for cert in self.issuer_chain:
            yield cert.subject
