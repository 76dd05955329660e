"""Auth records: accounts, rules, revocations and removals, each signed by an admin or by the mesh root.

A record is the CBOR array `[claims, signature, chain]`. `claims` is the canonical CBOR of a map with the
common fields

    typ       "account", "rule", "revoke", "remove" or "seal"
    iss       raw issuer key (32 bytes)        iss_kind  "M" (the mesh root) or "A" (an admin account)
    mesh      raw mesh root key                iat       issued-at, unix seconds

and those of its type (see the body classes). `signature` is the issuer's signature of `claims`; `chain`
is a list of `[claims, signature]` pairs: the issuer's own account records, from the one the mesh root
signed down to the issuer's, each signed by the subject of the one before (empty when the root signs).
Every account on a chain holds the `admin` scope and was within its validity when the next one was
signed. So a record proves its own authority, offline, whichever node relays it: no node can grant
itself anything, and the order records arrive in does not matter.

Revocations name a key and a time: whatever that key issued, or was issued for it, at or before that time
is dead (`Revocations.dead`). They are applied in the order they were issued, so an admin revoked by
another cannot undo that by revoking the other later. The issue time is the signer's word: a node takes a
record from a client only if it is dated within `CLOCK_SKEW` of its clock (`node.auth`), but a replica
cannot tell a backdated record from one that was long on its way, so an admin key is to be guarded like
the root's (the root can always re-create admins and `micro auth recover`).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from . import _cbor
from .claims import CLOCK_SKEW, _check_period, _Claims, _split_signed
from .errors import BadSignature, Expired, InvalidChain, Malformed
from .keys import KeyKind, PublicKey, SigningKey
from .rules import RECOVERY_PRIORITY, Access, Rule

__all__ = [
    "ACCOUNTS",
    "ADMIN_SCOPE",
    "AUTH_DB",
    "MAX_SCOPES",
    "REVOCATIONS",
    "RULES",
    "SEALS",
    "SECRETS_SCOPE",
    "TABLES",
    "Account",
    "AccountType",
    "Record",
    "Removal",
    "Revocation",
    "Revocations",
    "Seal",
]

AUTH_DB = "auth"
"""The reserved key-value database that holds the records; its tables are named below."""
ACCOUNTS, RULES, REVOCATIONS, SEALS = "accounts", "rules", "revocations", "seals"
TABLES = (ACCOUNTS, RULES, REVOCATIONS, SEALS)
ADMIN_SCOPE = "admin"
"""The scope that lets an account sign records (create accounts and rules, revoke)."""
SECRETS_SCOPE = "secrets"
"""The scope that lets an account read configuration secrets in clear."""
MAX_SCOPES = 16
_MAX_NAME = 64
_MAX_CHAIN = 4
_COMMON = frozenset({"typ", "iss", "iss_kind", "mesh", "iat"})


class AccountType(enum.Enum):
    USER = "user"
    SERVICE = "service"


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """`scopes` as a sorted tuple without repeats; raises `Malformed` for a bad or excess scope."""
    result = tuple(sorted(set(scopes)))
    if len(result) > MAX_SCOPES:
        raise Malformed(f"an account holds at most {MAX_SCOPES} scopes, got {len(result)}")
    for scope in result:
        if not isinstance(scope, str) or not 0 < len(scope) <= _MAX_NAME or not scope.isprintable() \
                or scope != scope.strip() or scope == "*" or "," in scope:
            raise Malformed(f"a scope is a name of 1 to {_MAX_NAME} printable characters (no ',' or '*'), "
                            f"not {scope!r}")
    return result


@dataclass(frozen=True, slots=True)
class Account:
    """An account (a person or a service): its key, name, type, scopes, and expiry (0: none)."""

    key: PublicKey
    name: str
    type: AccountType
    scopes: tuple[str, ...]
    expires_at: int = 0

    TYPE = "account"
    TABLE = ACCOUNTS

    def __post_init__(self) -> None:
        if self.key.kind is not KeyKind.ACCOUNT:
            raise Malformed(f"an account key starts with A, not {self.key.id[:1]}")
        if not isinstance(self.name, str) or not 0 < len(self.name) <= _MAX_NAME or not self.name.isprintable():
            raise Malformed(f"an account name is 1 to {_MAX_NAME} printable characters")
        object.__setattr__(self, "scopes", check_scopes(self.scopes))
        if type(self.expires_at) is not int or self.expires_at < 0:
            raise Malformed("account expiry is a unix time, or 0 for none")

    @property
    def record_key(self) -> str:
        return self.key.id

    def active(self, now: int) -> bool:
        return not self.expires_at or now <= self.expires_at + CLOCK_SKEW

    def fields(self) -> dict[str, Any]:
        return {"sub": self.key.raw, "name": self.name, "kind": self.type.value, "scopes": list(self.scopes),
                "exp": self.expires_at}

    @classmethod
    def parse(cls, claims: _Claims) -> Account:
        kind, scopes = claims.map["kind"], claims.map["scopes"]
        if kind not in ("user", "service") or not isinstance(scopes, list):
            raise Malformed("account record has a bad type or scopes")
        account = cls(claims.key("sub", KeyKind.ACCOUNT), claims.map["name"], AccountType(kind), tuple(scopes),
                      claims.map["exp"])
        # Scopes are signed sorted and without repeats; any other list is another encoding of the same account.
        if list(account.scopes) != scopes:
            raise Malformed("account record scopes are not in canonical order")
        return account


def _rule_fields(rule: Rule) -> dict[str, Any]:
    return {"id": rule.id, "resource": rule.resource, "scope": rule.scope, "access": rule.access.value,
            "priority": rule.priority}


def _parse_rule(claims: _Claims) -> Rule:
    m = claims.map
    if not all(isinstance(m[f], str) for f in ("id", "resource", "scope", "access")) or m["access"] not in (
            "grant", "deny"):
        raise Malformed("rule record has a bad field")
    return Rule(m["id"], m["resource"], m["scope"], Access(m["access"]), m["priority"])


@dataclass(frozen=True, slots=True)
class Revocation:
    """`key` (an account or a node) is dead for everything it issued, or was issued, at or before `at`."""

    key: PublicKey
    at: int

    TYPE = "revoke"
    TABLE = REVOCATIONS

    def __post_init__(self) -> None:
        if self.key.kind is KeyKind.MESH:
            raise Malformed("the mesh root cannot be revoked (`micro auth recover` undoes a lock-out)")
        if type(self.at) is not int or self.at < 0:
            raise Malformed("a revocation time is a unix time")

    @property
    def record_key(self) -> str:
        return self.key.id

    def fields(self) -> dict[str, Any]:
        return {"sub": self.key.raw, "sub_kind": self.key.kind.value, "at": self.at}

    @classmethod
    def parse(cls, claims: _Claims) -> Revocation:
        return cls(claims.key("sub"), claims.map["at"])


@dataclass(frozen=True, slots=True)
class Removal:
    """The account or rule stored under `key` of `table` is gone."""

    table: str
    key: str

    TYPE = "remove"

    def __post_init__(self) -> None:
        if self.table not in (ACCOUNTS, RULES) or not isinstance(self.key, str) or not 0 < len(self.key) <= 256:
            raise Malformed("a removal names an account or a rule")

    @property
    def record_key(self) -> str:
        return self.key

    def fields(self) -> dict[str, Any]:
        return {"table": self.table, "key": self.key}

    @classmethod
    def parse(cls, claims: _Claims) -> Removal:
        return cls(claims.map["table"], claims.map["key"])


@dataclass(frozen=True, slots=True)
class Seal:
    """A new gossip key sealed to member `to` (a node key), after the revocation of node `revoked`."""

    to: PublicKey
    revoked: PublicKey
    box: bytes

    TYPE = "seal"
    TABLE = SEALS

    def __post_init__(self) -> None:
        if self.to.kind is not KeyKind.NODE or self.revoked.kind is not KeyKind.NODE:
            raise Malformed("a seal is for a node, after the revocation of a node")
        if not isinstance(self.box, bytes) or not 0 < len(self.box) <= 128:
            raise Malformed("a seal holds one sealed gossip key")

    @property
    def record_key(self) -> str:
        return f"{self.revoked.id}/{self.to.id}"

    def fields(self) -> dict[str, Any]:
        return {"to": self.to.raw, "revoked": self.revoked.raw, "box": self.box}

    @classmethod
    def parse(cls, claims: _Claims) -> Seal:
        return cls(claims.key("to", KeyKind.NODE), claims.key("revoked", KeyKind.NODE), claims.map["box"])


Body = Account | Rule | Revocation | Removal | Seal
_FIELDS: dict[str, frozenset[str]] = {
    "account": frozenset({"sub", "name", "kind", "scopes", "exp"}),
    "rule": frozenset({"id", "resource", "scope", "access", "priority"}),
    "revoke": frozenset({"sub", "sub_kind", "at"}),
    "remove": frozenset({"table", "key"}),
    "seal": frozenset({"to", "revoked", "box"}),
}
_PARSERS: dict[str, Callable[[_Claims], Body]] = {
    "account": Account.parse, "rule": _parse_rule, "revoke": Revocation.parse, "remove": Removal.parse,
    "seal": Seal.parse,
}


def _type_of(body: Body) -> str:
    return "rule" if isinstance(body, Rule) else body.TYPE


def table_of(body: Body) -> str:
    """The table of the `auth` database a record of `body` is stored in."""
    if isinstance(body, Rule):
        return RULES
    return body.table if isinstance(body, Removal) else body.TABLE


def key_of(body: Body) -> str:
    """The key a record of `body` is stored under (an account or revoked key's id, a rule's id...)."""
    return body.id if isinstance(body, Rule) else body.record_key


def _body_fields(body: Body) -> dict[str, Any]:
    return _rule_fields(body) if isinstance(body, Rule) else body.fields()


class Revocations:
    """The revocations in force: key -> the latest time before which (inclusive) it is dead."""

    __slots__ = ("_at",)

    def __init__(self, at: Mapping[PublicKey, int] | None = None) -> None:
        self._at: dict[PublicKey, int] = dict(at or {})

    def revoked_at(self, key: PublicKey) -> int | None:
        return self._at.get(key)

    def dead(self, key: PublicKey, issued_at: int) -> bool:
        """Whether something `key` issued, or was issued for it, at `issued_at` is dead."""
        at = self._at.get(key)
        return at is not None and issued_at <= at

    def cut_off(self, node: PublicKey, written_at: int) -> bool:
        """Whether a node's key-value register stamped at `written_at` comes from after the node's revocation
        (at its time or later): refused, while those it wrote before stay."""
        at = self._at.get(node)
        return at is not None and written_at >= at

    def add(self, revocation: Revocation) -> None:
        held = self._at.get(revocation.key)
        if held is None or revocation.at > held:
            self._at[revocation.key] = revocation.at

    def items(self) -> list[tuple[PublicKey, int]]:
        return sorted(self._at.items(), key=lambda item: item[0].id)

    def __len__(self) -> int:
        return len(self._at)


NO_REVOCATIONS = Revocations()


@dataclass(frozen=True)
class Record:
    """A signed record: `body`, signed by `issuer` at `issued_at`, with the issuer's admin `chain`."""

    body: Body
    issuer: PublicKey
    mesh: PublicKey
    issued_at: int
    signature: bytes
    chain: tuple[Record, ...] = ()

    @classmethod
    def issue(cls, issuer_key: SigningKey, chain: Iterable[Record], mesh: PublicKey, body: Body,
              now: int) -> Record:
        """Sign `body` at `now` with `issuer_key` (the mesh root's, with no chain, or an admin's with the
        chain of its account records from the root's down)."""
        if issuer_key.kind not in (KeyKind.MESH, KeyKind.ACCOUNT):
            raise Malformed("records are signed by the mesh root or an admin account")
        _check_period(now, 1)
        if isinstance(body, Revocation) and body.at > now:
            raise Malformed("a revocation's time is after the record is issued")
        unsigned = cls(body, issuer_key.public, mesh, now, b"", tuple(chain))
        return replace(unsigned, signature=issuer_key.sign(unsigned.signed_bytes()))

    @property
    def table(self) -> str:
        return table_of(self.body)

    @property
    def key(self) -> str:
        return key_of(self.body)

    def signed_bytes(self) -> bytes:
        claims = {"typ": _type_of(self.body), "iss": self.issuer.raw, "iss_kind": self.issuer.kind.value,
                  "mesh": self.mesh.raw, "iat": self.issued_at, **_body_fields(self.body)}
        return _cbor.dumps(claims)

    def _pair(self) -> list[bytes]:
        return [self.signed_bytes(), self.signature]

    def encode(self) -> bytes:
        """CBOR `[claims, signature, [[claims, signature], ...]]`."""
        return _cbor.dumps([*self._pair(), [link._pair() for link in self.chain]])

    @classmethod
    def decode(cls, data: bytes) -> Record:
        """Parse `encode()` output; raises `Malformed`. Does not check signatures (see `verify`)."""
        outer = _cbor.loads(data, "auth record")
        if not isinstance(outer, list) or len(outer) != 3 or not isinstance(outer[2], list):
            raise Malformed("auth record is not a signed record with its issuer's chain")
        if len(outer[2]) > _MAX_CHAIN:
            raise Malformed(f"auth record chain has {len(outer[2])} records; the limit is {_MAX_CHAIN}")
        chain = tuple(cls._decode_pair(link) for link in outer[2])
        if any(not isinstance(link.body, Account) for link in chain):
            raise Malformed("an auth record's chain holds only account records")
        return replace(cls._decode_pair(outer[:2]), chain=chain)

    @classmethod
    def _decode_pair(cls, pair: object) -> Record:
        if not isinstance(pair, list) or len(pair) != 2 or not all(isinstance(x, bytes) for x in pair):
            raise Malformed("auth record is not a signed claim set")
        head = _cbor.loads(pair[0], "auth record claims")
        typ = head.get("typ") if isinstance(head, dict) else None
        if not isinstance(typ, str) or typ not in _FIELDS:
            raise Malformed("auth record has no known type")
        claims, signature = _split_signed(_cbor.dumps(pair), "auth record", typ, _COMMON | _FIELDS[typ])
        iat = claims.map["iat"]
        if type(iat) is not int or not 0 <= iat <= 253402300799:
            raise Malformed("auth record has an invalid issue time")
        issuer = claims.key("iss")
        if issuer.kind not in (KeyKind.MESH, KeyKind.ACCOUNT):
            raise Malformed("auth record issuer is neither the mesh root nor an account")
        try:
            body = _PARSERS[typ](claims)
        except (TypeError, ValueError, KeyError):
            raise Malformed(f"auth record of type {typ} has a bad field") from None
        if isinstance(body, Revocation) and body.at > iat:
            # A revocation speaks of the past: one dated ahead would kill what is issued after it.
            raise Malformed("a revocation's time is after the record was issued")
        return cls(body, issuer, claims.key("mesh", KeyKind.MESH), iat, signature)

    def verify(self, root: PublicKey, now: int, revocations: Revocations = NO_REVOCATIONS) -> None:
        """Check the record chains to mesh root `root` through admins and is not dead at `now`.

        Raises `BadSignature` if altered, `InvalidChain` if another mesh's or signed by a key that may not
        sign it (a node, a non-admin, a revoked key), `Expired` if issued in the future or by an admin whose
        account had expired.
        """
        if self.issued_at > now + CLOCK_SKEW:
            raise Expired("auth record is issued in the future; check the issuing machine's clock")
        expected = root
        for link in (*self.chain, self):
            if link.mesh != root:
                raise InvalidChain(f"auth record is for mesh {link.mesh.id[:12]}…, not this mesh {root.id[:12]}…")
            if link.issuer != expected:
                raise InvalidChain(f"auth record signed by {link.issuer.id} does not chain to the mesh root "
                                   "through admin accounts")
            if not link.issuer.verify_ok(link.signed_bytes(), link.signature):
                raise BadSignature("auth record signature does not verify (altered or corrupt)")
            if link.issuer.kind is KeyKind.ACCOUNT and revocations.dead(link.issuer, link.issued_at):
                raise InvalidChain(f"auth record signed by {link.issuer.id}, revoked since")
            if link is self:
                if isinstance(self.body, Rule) and self.body.priority == RECOVERY_PRIORITY and \
                        self.issuer.kind is not KeyKind.MESH:
                    raise InvalidChain("only the mesh root signs a rule at the recovery priority")
                break
            account = link.body
            assert isinstance(account, Account)  # decode admits only accounts on a chain
            if ADMIN_SCOPE not in account.scopes:
                raise InvalidChain(f"account {account.name} ({account.key.id}) lacks scope {ADMIN_SCOPE!r} "
                                   "and cannot sign auth records")
            if revocations.dead(account.key, link.issued_at):
                raise InvalidChain(f"admin account {account.name} has been revoked")
            if link.issued_at > self.issued_at + CLOCK_SKEW or not account.active(self.issued_at):
                raise Expired(f"admin account {account.name} was not valid when it signed the record")
            expected = account.key
        if isinstance(self.body, Account) and revocations.dead(self.body.key, self.issued_at):
            raise InvalidChain(f"account {self.body.name} has been revoked since this record was issued")
