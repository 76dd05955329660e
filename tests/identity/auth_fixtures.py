"""Keys, signers and node chains for the auth record, token and state tests.

Every key comes from a fixed seed, so every run signs the same bytes and a failing case is reproducible
from its name alone. Times are offsets from the fixed `NOW` (never the wall clock).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from identity_fixtures import DAY, NOW
from micro.identity import Certificate, Chain, KeyKind, PublicKey, SigningKey
from micro.identity.records import ADMIN_SCOPE, Account, AccountType, Body, Record
from micro.identity.rules import Access, Rule


def key(kind: KeyKind, n: int) -> SigningKey:
    """The key of `kind` made from seed `n` repeated (distinct `n`, distinct keys)."""
    return SigningKey.from_seed(kind, bytes([n]) * 32)


ROOT = key(KeyKind.MESH, 1)
OTHER_ROOT = key(KeyKind.MESH, 2)
MESH = ROOT.public


def account(subject: SigningKey, scopes: Iterable[str] = (), expires_at: int = 0) -> Account:
    """An account body for `subject`, named after its key."""
    return Account(subject.public, f"acct-{subject.public.id[1:9].lower()}", AccountType.USER, tuple(scopes),
                   expires_at)


@dataclass(frozen=True)
class Signer:
    """A key that signs auth records, with the chain of account records that lets it (empty for the root)."""

    key: SigningKey
    chain: tuple[Record, ...] = ()

    def sign(self, body: Body, at: int = NOW, mesh: PublicKey = MESH) -> Record:
        return Record.issue(self.key, self.chain, mesh, body, at)

    def admit(self, subject: SigningKey, scopes: Iterable[str] = (ADMIN_SCOPE,), at: int = NOW,
              expires_at: int = 0, mesh: PublicKey = MESH) -> Signer:
        """`subject` with the chain this signer gives it by signing its account record at `at`."""
        record = self.sign(account(subject, scopes, expires_at), at, mesh)
        # A link travels as its claims and signature only: the chain before it is the links before it.
        return Signer(subject, (*self.chain, replace(record, chain=())))

    @property
    def account_record(self) -> Record:
        """This signer's own account record as it is stored: with the links before it as its chain."""
        return replace(self.chain[-1], chain=self.chain[:-1])


BY_ROOT = Signer(ROOT)
ADMIN_KEY, SUB_ADMIN_KEY, USER_KEY, OTHER_ADMIN_KEY = (key(KeyKind.ACCOUNT, n) for n in (10, 11, 12, 13))
BY_ADMIN = BY_ROOT.admit(ADMIN_KEY)
"""An admin the mesh root created."""
BY_SUB_ADMIN = BY_ADMIN.admit(SUB_ADMIN_KEY)
"""An admin another admin created: a chain of two account records."""
BY_USER = BY_ADMIN.admit(USER_KEY, scopes=("editor",))
"""An account without the admin scope, holding its (valid) chain."""

NODE, OTHER_NODE = key(KeyKind.NODE, 30), key(KeyKind.NODE, 31)

RULE = Rule("no-deletes", "service:blog:Posts.Delete", "*", Access.DENY, 10)


def node_chain(node: SigningKey, *, issuer: SigningKey | None = None, at: int = NOW,
               mesh_root: SigningKey = ROOT, mesh: PublicKey = MESH) -> Chain:
    """A chain certifying `node`: signed by `mesh_root` directly, or through `issuer` (role "issuer")."""
    if issuer is None:
        return Chain((Certificate.issue(mesh_root, node.public, mesh, [], at, DAY),))
    return Chain((Certificate.issue(mesh_root, issuer.public, mesh, ["issuer"], at, DAY),
                  Certificate.issue(issuer, node.public, mesh, [], at, DAY)))
