"""The auth state in force: accounts, rules and revocations from the verified records, and decisions.

`AuthState.build` takes every record the node holds (each already checked to chain to the mesh root when
it was accepted, see `accept`) and applies them the same way on every node: revocations first, in the
order they were issued and each checked against those before it; then accounts and rules, keeping those
whose records (and issuers' chains) no revocation kills. Removals take an account or rule out by being
stored in its place. `authorize` answers for a `Principal` (or None, the public) and a resource, caching
decisions per (resource, scopes): a state is immutable and rebuilt when a record changes.

`accept` is the check a replica runs before it stores a record, whichever node relays it: the record must
decode, be stored under its own table and key, and chain to the root through admins; it must not be
older than the record it replaces. Revocations are not applied there, so every replica stores the same
records and converges; they are applied by `build`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .errors import IdentityError, InvalidChain, Malformed
from .keys import PublicKey
from .records import (
    ADMIN_SCOPE,
    SECRETS_SCOPE,
    Account,
    Record,
    Removal,
    Revocation,
    Revocations,
    Seal,
)
from .rules import RECOVERY_PRIORITY, Access, Decision, Rule, decide

__all__ = ["ADMIN", "AuthState", "Principal", "accept", "default_rules", "recovery_rule"]

_DECISIONS = 65_536


@dataclass(frozen=True, slots=True)
class Principal:
    """Who makes a request: an account's key (None for the local socket's owner), name and scopes."""

    account: PublicKey | None
    name: str
    scopes: frozenset[str]


ADMIN = Principal(None, "admin", frozenset({ADMIN_SCOPE, SECRETS_SCOPE}))
"""The local socket's owner: the node's admin, bound by the rules like any admin account."""


def default_rules() -> tuple[Rule, ...]:
    """The rules a new mesh starts with: admins may do everything, any account may call services, and
    the public nothing (the gateway's index page is not a resource)."""
    return (
        Rule("default-admin", "*", ADMIN_SCOPE, Access.GRANT, 0),
        Rule("default-services", "service:*", "*", Access.GRANT, 0),
    )


def recovery_rule() -> Rule:
    """The rule `micro auth recover` signs with the root key: admins may do everything, above any rule."""
    return Rule("recover-admin", "*", ADMIN_SCOPE, Access.GRANT, RECOVERY_PRIORITY)


def accept(value: bytes, table: str, key: str, root: PublicKey, now: int, held: bytes | None) -> Record:
    """The record `value` if a replica may store it under `table`/`key` in place of `held`; raises an
    `IdentityError` saying why not."""
    record = Record.decode(value)
    if record.table != table or record.key != key:
        raise Malformed(f"auth record for {record.table}/{record.key} stored under {table}/{key}")
    record.verify(root, now)
    if held is not None:
        try:
            previous = Record.decode(held)
        except IdentityError:
            return record
        if previous.issued_at > record.issued_at:
            raise InvalidChain("auth record is older than the one it would replace (a replay)")
        if isinstance(previous.body, Revocation) and isinstance(record.body, Revocation) and \
                record.body.at < previous.body.at:
            raise InvalidChain("a revocation cannot move a key's revocation time back (that would revive what "
                               "it killed)")
    return record


class AuthState:
    """Accounts, rules and revocations in force; immutable, rebuilt when a record changes."""

    def __init__(self, root: PublicKey, accounts: dict[PublicKey, Account], rules: tuple[Rule, ...],
                 revocations: Revocations, seals: tuple[Seal, ...] = ()) -> None:
        self.root = root
        self.accounts = accounts
        self.rules = rules
        self.revocations = revocations
        self.seals = seals
        self._decisions: dict[tuple[str, frozenset[str] | None], Decision] = {}

    @classmethod
    def build(cls, root: PublicKey, records: Iterable[Record], now: int) -> AuthState:
        """The state `records` put in force at `now`; records that fail their checks are left out."""
        by_kind: dict[type, list[Record]] = {}
        for record in records:
            by_kind.setdefault(type(record.body), []).append(record)
        revocations = Revocations()
        for record in sorted(by_kind.get(Revocation, ()), key=lambda r: (r.issued_at, r.key)):
            if _valid(record, root, now, revocations):
                assert isinstance(record.body, Revocation)
                revocations.add(record.body)
        accounts: dict[PublicKey, Account] = {}
        for record in by_kind.get(Account, ()):
            if _valid(record, root, now, revocations):
                assert isinstance(record.body, Account)
                accounts[record.body.key] = record.body
        rules = tuple(sorted((r.body for r in by_kind.get(Rule, ()) if _valid(r, root, now, revocations)),
                             key=lambda rule: rule.id))  # type: ignore[union-attr]
        seals = tuple(r.body for r in by_kind.get(Seal, ()) if _valid(r, root, now, revocations))
        return cls(root, accounts, rules, revocations, seals)  # type: ignore[arg-type]

    def account(self, key: PublicKey, now: int) -> Account | None:
        """The active account of `key`, or None (unknown, removed, revoked or expired)."""
        account = self.accounts.get(key)
        return account if account is not None and account.active(now) else None

    def authorize(self, principal: Principal | None, resource: str) -> Decision:
        """The rules' decision for `principal` (None: the public) on `resource`."""
        scopes = None if principal is None else principal.scopes
        cache_key = (resource, scopes)
        decision = self._decisions.get(cache_key)
        if decision is None:
            if len(self._decisions) >= _DECISIONS:
                self._decisions.clear()
            decision = self._decisions[cache_key] = decide(self.rules, resource, scopes)
        return decision


def _valid(record: Record, root: PublicKey, now: int, revocations: Revocations) -> bool:
    if isinstance(record.body, Removal):
        return False
    try:
        record.verify(root, now, revocations)
    except IdentityError:
        return False
    return True
