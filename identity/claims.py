"""Certificates, certificate chains and invite tokens: signed claim sets leading back to the mesh root.

A signed claim set is the CBOR array `[claims, signature]`, where `claims` is the canonical CBOR of a map

    typ       "cert" or "invite"
    iss       raw issuer key (32 bytes)        iss_kind  its kind letter
    sub       raw subject key (certs only)     sub_kind  its kind letter
    mesh      raw mesh root key
    iat, exp  issued-at and expiry, unix seconds
    roles     list of role names
    nonce     16 random bytes (invites only)
    redeemer  raw key of the node that decides which joiner the invite admits (invites only)

and `signature` is the issuer's ed25519 signature of those exact bytes. Decoding accepts only the canonical
encoding (see `_cbor`), so a claim set has one byte form and re-encoding a decoded value reproduces it.

A `Chain` lists certificates from the one the root signed down to the leaf; each later certificate is
signed by the subject of the one before, which must hold role "issuer". The empty chain stands for the
root itself. An `Invite` is a claim set without subject, carrying its issuer's chain, printed as URL-safe
base64. Nothing here reads a clock: every check takes `now` in unix seconds. Certificates allow
`CLOCK_SKEW` either side of their validity; invites only `INVITE_SKEW`, so that an invite made to last a
minute is refused half a minute after it expired, not five.
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import nacl.utils

from . import _cbor
from ._text import from_text, to_text
from .errors import BadSignature, Expired, InvalidChain, Malformed
from .keys import KEY_SIZE, SIGNATURE_SIZE, KeyKind, PublicKey, SigningKey

__all__ = ["CLOCK_SKEW", "INVITE_SKEW", "ISSUER_ROLE", "MAX_CHAIN_DEPTH", "NONCE_SIZE", "Certificate",
           "Chain", "Invite"]

MAX_CHAIN_DEPTH = 4
CLOCK_SKEW = 300
# An invite's expiry is meant to the minute (`micro node invite --ttl`): members' clocks must agree this well.
INVITE_SKEW = 30
ISSUER_ROLE = "issuer"
NONCE_SIZE = 16
_MAX_TIME = 253402300799  # 9999-12-31T23:59:59Z: the last second a timestamp can print as
# Small enough that a full chain plus an invite always fits the decoders' 4 KiB bound.
_MAX_ROLES = 8
_MAX_ROLE_LENGTH = 32
_KINDS = {k.value: k for k in KeyKind}


def _utc(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _check_roles(roles: Iterable[str]) -> tuple[str, ...]:
    result = tuple(roles)
    if len(result) > _MAX_ROLES:
        raise Malformed(f"at most {_MAX_ROLES} roles, got {len(result)}")
    for role in result:
        if not isinstance(role, str) or not 0 < len(role) <= _MAX_ROLE_LENGTH:
            raise Malformed(f"a role is a name of 1 to {_MAX_ROLE_LENGTH} characters, not {role!r}")
    return result


def _check_period(now: int, ttl: int) -> None:
    if not 0 <= now <= _MAX_TIME or ttl <= 0 or now + ttl > _MAX_TIME:
        raise Malformed(f"cannot issue at {now} for {ttl} seconds: times must lie within 1970..9999")


def _check_validity(what: str, issued_at: int, expires_at: int, now: int, skew: int) -> None:
    if now > expires_at + skew:
        raise Expired(f"{what} expired at {_utc(expires_at)}")
    if issued_at > now + skew:
        raise Expired(f"{what} is not valid until {_utc(issued_at)}; check this machine's clock")


class _Claims:
    """Typed access to a decoded claims map; every accessor raises `Malformed` for a wrong field."""

    def __init__(self, what: str, value: object, fields: frozenset[str]) -> None:
        if not isinstance(value, dict) or set(value) != fields:
            raise Malformed(f"{what} does not hold the fields of a {what}")
        self.what = what
        self.map: dict[str, Any] = value

    def key(self, name: str, kind: KeyKind | None = None) -> PublicKey:
        raw = self.map[name]
        if not isinstance(raw, bytes) or len(raw) != KEY_SIZE:
            raise Malformed(f"{self.what} field {name!r} is not a {KEY_SIZE}-byte key")
        if kind is None:
            letter = self.map[f"{name}_kind"]
            if not isinstance(letter, str) or letter not in _KINDS:
                raise Malformed(f"{self.what} field {name + '_kind'!r} is not M, N or A")
            kind = _KINDS[letter]
        return PublicKey(kind, raw)

    def period(self) -> tuple[int, int]:
        iat, exp = self.map["iat"], self.map["exp"]
        # `type(...) is int` because CBOR true/false decode to bool, a subclass of int.
        if type(iat) is not int or type(exp) is not int or not 0 <= iat < exp <= _MAX_TIME:
            raise Malformed(f"{self.what} has an invalid validity period")
        return iat, exp

    def roles(self) -> tuple[str, ...]:
        roles = self.map["roles"]
        if not isinstance(roles, list):
            raise Malformed(f"{self.what} roles are not a list")
        return _check_roles(roles)


def _split_signed(data: object, what: str, typ: str, fields: frozenset[str]) -> tuple[_Claims, bytes]:
    outer = _cbor.loads(data, what)
    if not isinstance(outer, list) or len(outer) != 2 or not all(isinstance(x, bytes) for x in outer):
        raise Malformed(f"{what} is not a signed claim set")
    body, signature = outer
    if len(signature) != SIGNATURE_SIZE:
        raise Malformed(f"{what} signature is {len(signature)} bytes; expected {SIGNATURE_SIZE}")
    claims = _Claims(what, _cbor.loads(body, f"{what} claims"), fields)
    if claims.map["typ"] != typ:
        raise Malformed(f"{what} has type {claims.map['typ']!r}; expected {typ!r}")
    return claims, signature


_CERT_FIELDS = frozenset({"typ", "iss", "iss_kind", "sub", "sub_kind", "mesh", "iat", "exp", "roles"})
_INVITE_FIELDS = frozenset({"typ", "iss", "iss_kind", "mesh", "iat", "exp", "roles", "nonce", "redeemer"})


@dataclass(frozen=True)
class Certificate:
    """`issuer` says `subject` is a member of mesh `mesh` holding `roles` from `issued_at` to `expires_at`."""

    issuer: PublicKey
    subject: PublicKey
    mesh: PublicKey
    issued_at: int
    expires_at: int
    roles: tuple[str, ...]
    signature: bytes

    @classmethod
    def issue(
        cls,
        issuer_key: SigningKey,
        subject: PublicKey,
        mesh: PublicKey,
        roles: Iterable[str],
        now: int,
        ttl: int,
    ) -> "Certificate":
        """Sign a certificate valid for `ttl` seconds from `now`."""
        _check_period(now, ttl)
        unsigned = cls(issuer_key.public, subject, mesh, now, now + ttl, _check_roles(roles), b"")
        return replace(unsigned, signature=issuer_key.sign(unsigned.signed_bytes()))

    def _claims(self) -> dict[str, Any]:
        return {
            "typ": "cert",
            "iss": self.issuer.raw,
            "iss_kind": self.issuer.kind.value,
            "sub": self.subject.raw,
            "sub_kind": self.subject.kind.value,
            "mesh": self.mesh.raw,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "roles": list(self.roles),
        }

    def signed_bytes(self) -> bytes:
        """The exact bytes the issuer signed."""
        return _cbor.dumps(self._claims())

    def encode(self) -> bytes:
        """CBOR `[claims, signature]`."""
        return _cbor.dumps([self.signed_bytes(), self.signature])

    @classmethod
    def decode(cls, data: bytes) -> "Certificate":
        """Parse `encode()` output; raises `Malformed`. Does not check the signature (see `Chain.verify`)."""
        claims, signature = _split_signed(data, "certificate", "cert", _CERT_FIELDS)
        iat, exp = claims.period()
        return cls(
            issuer=claims.key("iss"),
            subject=claims.key("sub"),
            mesh=claims.key("mesh", KeyKind.MESH),
            issued_at=iat,
            expires_at=exp,
            roles=claims.roles(),
            signature=signature,
        )


@dataclass(frozen=True)
class Chain:
    """Certificates from the one the mesh root signed down to the leaf; empty means the root itself."""

    certs: tuple[Certificate, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "certs", tuple(self.certs))

    def __len__(self) -> int:
        return len(self.certs)

    def __iter__(self) -> Iterator[Certificate]:
        return iter(self.certs)

    @property
    def leaf(self) -> Certificate:
        """The last certificate; raises `InvalidChain` for the empty chain."""
        if not self.certs:
            raise InvalidChain("the empty chain has no leaf certificate")
        return self.certs[-1]

    def extend(self, cert: Certificate) -> "Chain":
        """This chain with `cert` appended below the leaf; raises `InvalidChain` if it cannot follow."""
        if len(self.certs) >= MAX_CHAIN_DEPTH:
            raise InvalidChain(f"a chain holds at most {MAX_CHAIN_DEPTH} certificates")
        if self.certs and cert.issuer != self.leaf.subject:
            raise InvalidChain(f"certificate issued by {cert.issuer.id} cannot follow one for {self.leaf.subject.id}")
        return Chain((*self.certs, cert))

    def encode(self) -> bytes:
        """CBOR array of the encoded certificates."""
        return _cbor.dumps([cert.encode() for cert in self.certs])

    @classmethod
    def decode(cls, data: bytes) -> "Chain":
        """Parse `encode()` output of at most `MAX_CHAIN_DEPTH` certificates; raises `Malformed`."""
        items = _cbor.loads(data, "certificate chain")
        if not isinstance(items, list) or not all(isinstance(x, bytes) for x in items):
            raise Malformed("certificate chain is not a list of certificates")
        if len(items) > MAX_CHAIN_DEPTH:
            raise Malformed(f"certificate chain has {len(items)} certificates; the limit is {MAX_CHAIN_DEPTH}")
        return cls(tuple(Certificate.decode(item) for item in items))

    def verify(self, root: PublicKey, now: int) -> Certificate:
        """Check the chain leads from `root` to its leaf at time `now` and return the leaf.

        Raises `BadSignature`, `Expired` or `InvalidChain`; the empty chain raises `InvalidChain`
        because it certifies no key but the root (see `verify_issuer`).
        """
        if not self.certs:
            raise InvalidChain("the empty chain certifies no key")
        if len(self.certs) > MAX_CHAIN_DEPTH:
            raise InvalidChain(f"chain has {len(self.certs)} certificates; the limit is {MAX_CHAIN_DEPTH}")
        expected_issuer = root
        for depth, cert in enumerate(self.certs):
            what = f"certificate {depth + 1} of {len(self.certs)} (for {cert.subject.id})"
            if cert.mesh != root:
                raise InvalidChain(f"{what} belongs to mesh {cert.mesh.id}, not {root.id}")
            if cert.issuer != expected_issuer:
                signer = "the mesh root" if depth == 0 else "the subject of the certificate before it"
                raise InvalidChain(f"{what} is signed by {cert.issuer.id}, not {signer} {expected_issuer.id}")
            if not cert.issuer.verify_ok(cert.signed_bytes(), cert.signature):
                raise BadSignature(f"{what} signature does not verify (altered or corrupt)")
            _check_validity(what, cert.issued_at, cert.expires_at, now, CLOCK_SKEW)
            if depth < len(self.certs) - 1 and ISSUER_ROLE not in cert.roles:
                raise InvalidChain(f"{what} lacks role {ISSUER_ROLE!r} but signs the next certificate")
            expected_issuer = cert.subject
        return self.certs[-1]

    def verify_issuer(self, root: PublicKey, now: int) -> PublicKey:
        """The key this chain lets sign certificates and invites at `now`: the root for the empty chain,
        else the leaf subject, which must hold role "issuer". Raises like `verify`."""
        if not self.certs:
            return root
        leaf = self.verify(root, now)
        if ISSUER_ROLE not in leaf.roles:
            raise InvalidChain(f"{leaf.subject.id} lacks role {ISSUER_ROLE!r} and cannot issue")
        return leaf.subject


@dataclass(frozen=True)
class Invite:
    """A short-lived token that lets one new node join mesh `mesh`, signed by `issuer`.

    `roles` are the roles the joining node's certificate is to carry; `issuer_chain` proves the issuer
    may issue (empty when the root signed the invite); `redeemer` is the node that alone decides which
    joiner the invite admits (the node that made it, whichever key signed it: see `redemption`).
    """

    issuer: PublicKey
    mesh: PublicKey
    issued_at: int
    expires_at: int
    nonce: bytes
    signature: bytes
    issuer_chain: Chain
    redeemer: PublicKey
    roles: tuple[str, ...] = ()

    @classmethod
    def issue(
        cls,
        issuer_key: SigningKey,
        chain: Chain,
        mesh: PublicKey,
        now: int,
        ttl: int,
        roles: Iterable[str] = (),
        *,
        redeemer: PublicKey,
    ) -> "Invite":
        """Sign an invite valid for `ttl` seconds from `now`, with a fresh random nonce, redeemed at node
        `redeemer`."""
        _check_period(now, ttl)
        if redeemer.kind is not KeyKind.NODE:
            raise Malformed(f"an invite is redeemed at a node, not at {redeemer.id}")
        unsigned = cls(issuer_key.public, mesh, now, now + ttl, nacl.utils.random(NONCE_SIZE), b"", chain,
                       redeemer, _check_roles(roles))
        return replace(unsigned, signature=issuer_key.sign(unsigned.signed_bytes()))

    def _claims(self) -> dict[str, Any]:
        return {
            "typ": "invite",
            "iss": self.issuer.raw,
            "iss_kind": self.issuer.kind.value,
            "mesh": self.mesh.raw,
            "iat": self.issued_at,
            "exp": self.expires_at,
            "roles": list(self.roles),
            "nonce": self.nonce,
            "redeemer": self.redeemer.raw,
        }

    def signed_bytes(self) -> bytes:
        """The exact bytes the issuer signed."""
        return _cbor.dumps(self._claims())

    def encode(self) -> bytes:
        """CBOR `[[claims, signature], chain]`, with the inner parts as encoded byte strings."""
        signed = _cbor.dumps([self.signed_bytes(), self.signature])
        return _cbor.dumps([signed, self.issuer_chain.encode()])

    @classmethod
    def decode(cls, data: bytes) -> "Invite":
        """Parse `encode()` output; raises `Malformed`. Does not check signatures (see `verify`)."""
        outer = _cbor.loads(data, "invite token")
        if not isinstance(outer, list) or len(outer) != 2 or not all(isinstance(x, bytes) for x in outer):
            raise Malformed("invite token does not hold an invite and a chain")
        claims, signature = _split_signed(outer[0], "invite token", "invite", _INVITE_FIELDS)
        nonce = claims.map["nonce"]
        if not isinstance(nonce, bytes) or len(nonce) != NONCE_SIZE:
            raise Malformed(f"invite token nonce is not {NONCE_SIZE} bytes")
        iat, exp = claims.period()
        return cls(
            issuer=claims.key("iss"),
            mesh=claims.key("mesh", KeyKind.MESH),
            issued_at=iat,
            expires_at=exp,
            nonce=nonce,
            signature=signature,
            issuer_chain=Chain.decode(outer[1]),
            redeemer=claims.key("redeemer", KeyKind.NODE),
            roles=claims.roles(),
        )

    def to_token(self) -> str:
        """URL-safe base64 of `encode()`, without padding."""
        return to_text(self.encode())

    @classmethod
    def from_token(cls, text: str) -> "Invite":
        """Parse a token printed by `to_token` (surrounding whitespace ignored); raises `Malformed`."""
        return cls.decode(from_text(text, "invite token"))

    def verify(self, root: PublicKey, now: int) -> None:
        """Check the invite at `now` against mesh root `root`.

        Raises `BadSignature` if altered, `InvalidChain` if for another mesh or its issuer may not issue,
        `Expired` outside its validity period (allowing `INVITE_SKEW`).
        """
        if not self.issuer.verify_ok(self.signed_bytes(), self.signature):
            raise BadSignature("invite token signature does not verify (altered or corrupt)")
        if self.mesh != root:
            raise InvalidChain(f"invite token is for mesh {self.mesh.id}, not this mesh {root.id}")
        _check_validity("invite token", self.issued_at, self.expires_at, now, INVITE_SKEW)
        allowed = self.issuer_chain.verify_issuer(root, now)
        if allowed != self.issuer:
            raise InvalidChain(f"invite token issuer {self.issuer.id} is not certified by its chain to issue")
